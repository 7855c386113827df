-- replay memory of the platforms' HTTP callbacks, kept for the whole accepted window

CREATE TABLE callback_replays (
    key TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);
CREATE INDEX callback_replays_expiry ON callback_replays (expires_at);
