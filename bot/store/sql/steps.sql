-- Step runs (bot.store.repos.steps): a reminder or escalation step sent at most once.

-- name: start_step
-- Nothing changes when the step is already marked (started or done): the caller reads its mark.
INSERT INTO step_runs (job_ref, state, at) VALUES (?, 'started', ?)
ON CONFLICT (job_ref) DO NOTHING

-- name: step_state
SELECT state FROM step_runs WHERE job_ref = ?

-- name: finish_step
-- Done, with the step's history line: started before its send, or marked here for the first
-- time (a step that sent nothing is done all the same).
INSERT INTO step_runs (job_ref, state, at) VALUES (?, 'done', ?)
ON CONFLICT (job_ref) DO UPDATE SET state = 'done', at = excluded.at

-- name: release_step
-- The send failed and the channel said so: nothing went out, the step's retry may send it.
DELETE FROM step_runs WHERE job_ref = ? AND state = 'started'
