-- /metrics counts updated in place, one row per count and database session, by statement triggers
-- Migration 0002 appended a delta row per changed row and folded the deltas in at scrape time,
-- so a scrape read every change since the last one: after a bulk load, or hours without a
-- scrape, it read hundreds of thousands of rows, and failing that fold, every scrape did.
-- Now each count is a few rows: one per (status, session) that changed it (``slot`` is the
-- writing session's pg_backend_pid()), updated in place. Two transactions running at the same
-- time are in two sessions, so they never write the same row: no transaction waits on another's
-- count row, and none can deadlock on them. Inserts and deletes are counted once per statement
-- (a bulk load is one upsert per count, not one per row), an update once per row that moves
-- between counts (claims and other updates fire nothing). A scrape sums the
-- rows of each count; the rows of sessions that are gone are folded into slot 0 now and then
-- (postgres/sql/engine.sql: fold_*), so the rows stay as few as the counts times the sessions.
-- The delta tables of 0002 stay, empty, for replicas of the previous version still reading
-- them during a rolling upgrade (their own fold fails on the new key and is logged; their
-- reads of counts plus deltas stay right).

-- Writers of the previous version wait here until this commits: no change is counted twice
-- or lost between the last delta and the first in-place update.
LOCK TABLE requests, deliveries, outbox, usage IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE request_counts ADD COLUMN slot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_counts DROP CONSTRAINT request_counts_pkey;
ALTER TABLE request_counts ADD PRIMARY KEY (status, slot);
ALTER TABLE delivery_counts ADD COLUMN slot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE delivery_counts DROP CONSTRAINT delivery_counts_pkey;
ALTER TABLE delivery_counts ADD PRIMARY KEY (channel, state, slot);
ALTER TABLE outbox_counts ADD COLUMN slot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_counts DROP CONSTRAINT outbox_counts_pkey;
ALTER TABLE outbox_counts ADD PRIMARY KEY (kind, slot);
ALTER TABLE usage_counts ADD COLUMN slot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_counts DROP CONSTRAINT usage_counts_pkey;
ALTER TABLE usage_counts ADD PRIMARY KEY (channel, kind, slot);

-- The deltas not folded yet join slot 0.
WITH moved AS (DELETE FROM request_count_deltas RETURNING status, n)
INSERT INTO request_counts AS c (status, slot, n) SELECT status, 0, SUM(n) FROM moved GROUP BY status
ON CONFLICT (status, slot) DO UPDATE SET n = c.n + excluded.n;
WITH moved AS (DELETE FROM delivery_count_deltas RETURNING channel, state, n)
INSERT INTO delivery_counts AS c (channel, state, slot, n)
SELECT channel, state, 0, SUM(n) FROM moved GROUP BY channel, state
ON CONFLICT (channel, state, slot) DO UPDATE SET n = c.n + excluded.n;
WITH moved AS (DELETE FROM outbox_count_deltas RETURNING kind, n)
INSERT INTO outbox_counts AS c (kind, slot, n) SELECT kind, 0, SUM(n) FROM moved GROUP BY kind
ON CONFLICT (kind, slot) DO UPDATE SET n = c.n + excluded.n;
WITH moved AS (DELETE FROM usage_count_deltas RETURNING channel, kind, n)
INSERT INTO usage_counts AS c (channel, kind, slot, n)
SELECT channel, kind, 0, SUM(n) FROM moved GROUP BY channel, kind
ON CONFLICT (channel, kind, slot) DO UPDATE SET n = c.n + excluded.n;

DROP TRIGGER request_counts_insert ON requests;
DROP TRIGGER request_counts_update ON requests;
DROP TRIGGER request_counts_delete ON requests;
DROP TRIGGER delivery_counts_insert ON deliveries;
DROP TRIGGER delivery_counts_update ON deliveries;
DROP TRIGGER delivery_counts_delete ON deliveries;
DROP TRIGGER outbox_counts_insert ON outbox;
DROP TRIGGER outbox_counts_update ON outbox;
DROP TRIGGER outbox_counts_delete ON outbox;
DROP TRIGGER usage_counts_insert ON usage;
DROP TRIGGER usage_counts_update ON usage;
DROP TRIGGER usage_counts_delete ON usage;
DROP FUNCTION request_counts_track();
DROP FUNCTION delivery_counts_track();
DROP FUNCTION outbox_counts_track();
DROP FUNCTION usage_counts_track();

-- Inserts and deletes: once per statement, over its transition table (new_rows, gone_rows).
-- PL/pgSQL plans a branch when it first runs it, in a copy of the function per trigger, so
-- each branch names only the transition table its own trigger has. Updates: per row, and only
-- for a row that leaves one count for another (the WHEN of each trigger); one session's
-- upserts of one count row follow each other, never another session's.
CREATE FUNCTION request_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO request_counts AS c (status, slot, n)
        SELECT status, pg_backend_pid(), SUM(1) FROM new_rows GROUP BY status
        ON CONFLICT (status, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        INSERT INTO request_counts AS c (status, slot, n)
        SELECT status, pg_backend_pid(), -SUM(1) FROM gone_rows GROUP BY status
        ON CONFLICT (status, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION request_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TRUE THEN
        INSERT INTO request_counts AS c (status, slot, n) VALUES (OLD.status, pg_backend_pid(), -1)
        ON CONFLICT (status, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    IF TRUE THEN
        INSERT INTO request_counts AS c (status, slot, n) VALUES (NEW.status, pg_backend_pid(), 1)
        ON CONFLICT (status, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION delivery_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO delivery_counts AS c (channel, state, slot, n)
        SELECT channel, state, pg_backend_pid(), SUM(1) FROM new_rows GROUP BY channel, state
        ON CONFLICT (channel, state, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        INSERT INTO delivery_counts AS c (channel, state, slot, n)
        SELECT channel, state, pg_backend_pid(), -SUM(1) FROM gone_rows GROUP BY channel, state
        ON CONFLICT (channel, state, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION delivery_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TRUE THEN
        INSERT INTO delivery_counts AS c (channel, state, slot, n) VALUES (OLD.channel, OLD.state, pg_backend_pid(), -1)
        ON CONFLICT (channel, state, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    IF TRUE THEN
        INSERT INTO delivery_counts AS c (channel, state, slot, n) VALUES (NEW.channel, NEW.state, pg_backend_pid(), 1)
        ON CONFLICT (channel, state, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;

-- Only pending jobs count: completing or burying a job takes it out, a job made pending
-- again puts it back.
CREATE FUNCTION outbox_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO outbox_counts AS c (kind, slot, n)
        SELECT kind, pg_backend_pid(), SUM(1) FROM new_rows WHERE state = 'pending' GROUP BY kind
        ON CONFLICT (kind, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        INSERT INTO outbox_counts AS c (kind, slot, n)
        SELECT kind, pg_backend_pid(), -SUM(1) FROM gone_rows WHERE state = 'pending' GROUP BY kind
        ON CONFLICT (kind, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION outbox_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = 'pending' THEN
        INSERT INTO outbox_counts AS c (kind, slot, n) VALUES (OLD.kind, pg_backend_pid(), -1)
        ON CONFLICT (kind, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    IF NEW.state = 'pending' THEN
        INSERT INTO outbox_counts AS c (kind, slot, n) VALUES (NEW.kind, pg_backend_pid(), 1)
        ON CONFLICT (kind, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;

-- Metering adds to a usage row's count: the counts, not the rows, are summed.
CREATE FUNCTION usage_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO usage_counts AS c (channel, kind, slot, n)
        SELECT channel, kind, pg_backend_pid(), SUM(count) FROM new_rows GROUP BY channel, kind
        ON CONFLICT (channel, kind, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        INSERT INTO usage_counts AS c (channel, kind, slot, n)
        SELECT channel, kind, pg_backend_pid(), -SUM(count) FROM gone_rows GROUP BY channel, kind
        ON CONFLICT (channel, kind, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION usage_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TRUE THEN
        INSERT INTO usage_counts AS c (channel, kind, slot, n) VALUES (OLD.channel, OLD.kind, pg_backend_pid(), -OLD.count)
        ON CONFLICT (channel, kind, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    IF TRUE THEN
        INSERT INTO usage_counts AS c (channel, kind, slot, n) VALUES (NEW.channel, NEW.kind, pg_backend_pid(), NEW.count)
        ON CONFLICT (channel, kind, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER request_counts_insert AFTER INSERT ON requests
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION request_counts_add();
CREATE TRIGGER request_counts_delete AFTER DELETE ON requests
    REFERENCING OLD TABLE AS gone_rows FOR EACH STATEMENT EXECUTE FUNCTION request_counts_add();
CREATE TRIGGER request_counts_update AFTER UPDATE OF status ON requests
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION request_counts_move();
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_add();
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries
    REFERENCING OLD TABLE AS gone_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_add();
CREATE TRIGGER delivery_counts_update AFTER UPDATE OF channel, state ON deliveries
    FOR EACH ROW WHEN (OLD.channel IS DISTINCT FROM NEW.channel
        OR OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION delivery_counts_move();
CREATE TRIGGER outbox_counts_insert AFTER INSERT ON outbox
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outbox_counts_add();
CREATE TRIGGER outbox_counts_delete AFTER DELETE ON outbox
    REFERENCING OLD TABLE AS gone_rows FOR EACH STATEMENT EXECUTE FUNCTION outbox_counts_add();
CREATE TRIGGER outbox_counts_update AFTER UPDATE OF state, kind ON outbox
    FOR EACH ROW WHEN ((OLD.state = 'pending') <> (NEW.state = 'pending')
        OR (NEW.state = 'pending' AND OLD.kind IS DISTINCT FROM NEW.kind))
    EXECUTE FUNCTION outbox_counts_move();
CREATE TRIGGER usage_counts_insert AFTER INSERT ON usage
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_counts_add();
CREATE TRIGGER usage_counts_delete AFTER DELETE ON usage
    REFERENCING OLD TABLE AS gone_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_counts_add();
CREATE TRIGGER usage_counts_update AFTER UPDATE OF channel, kind, count ON usage
    FOR EACH ROW WHEN (OLD.channel IS DISTINCT FROM NEW.channel
        OR OLD.kind IS DISTINCT FROM NEW.kind OR OLD.count IS DISTINCT FROM NEW.count)
    EXECUTE FUNCTION usage_counts_move();
