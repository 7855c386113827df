-- step runs: each reminder or escalation step is sent at most once (bot.core.nudges)
-- One row per step job (its outbox ref): 'started' is committed before the step's send,
-- 'done' with the step's history line and audit record. A step run again after a crash finds
-- its mark and does not send again.
CREATE TABLE step_runs (
    job_ref TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('started', 'done')),
    at TEXT NOT NULL
);
