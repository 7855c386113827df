-- platform rate budgets shared by every gateway on this database: each budget's next free slot

CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    next_at REAL NOT NULL
);
