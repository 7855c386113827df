-- write probe: one row that readiness rewrites to prove the store can write

CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL
);
