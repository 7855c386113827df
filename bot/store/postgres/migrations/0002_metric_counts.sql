-- counts for /metrics kept as rows change, as deltas folded at scrape time (requests, deliveries, pending outbox jobs, usage)
-- SQLite keeps one row per count, updated by triggers (its migration 0013): it has one writer
-- at a time anyway. Here every replica's transactions run side by side, and one counter row per
-- status would make every submit, click and job completion wait for the others on its lock
-- (and take part in their deadlocks). So the triggers only append a delta row, which locks
-- nothing another transaction wants; a scrape adds the deltas to the folded counts, and folds
-- them in (bot/store/postgres/sql/engine.sql: fold_*), so the deltas stay as few as the changes
-- since the last scrape, whatever the size of the tables.

CREATE TABLE request_counts (
    status TEXT PRIMARY KEY,
    n BIGINT NOT NULL
);
CREATE TABLE request_count_deltas (
    status TEXT NOT NULL,
    n BIGINT NOT NULL
);
CREATE TABLE delivery_counts (
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (channel, state)
);
CREATE TABLE delivery_count_deltas (
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    n BIGINT NOT NULL
);
CREATE TABLE outbox_counts (
    kind TEXT PRIMARY KEY,
    n BIGINT NOT NULL
);
CREATE TABLE outbox_count_deltas (
    kind TEXT NOT NULL,
    n BIGINT NOT NULL
);
CREATE TABLE usage_counts (
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (channel, kind)
);
CREATE TABLE usage_count_deltas (
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    n BIGINT NOT NULL
);

-- The migration runs under the advisory lock in one transaction; rows written by replicas of
-- the previous version while it runs wait for its commit on their own tables' locks below.
LOCK TABLE requests, deliveries, outbox, usage IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO request_counts (status, n) SELECT status, COUNT(*) FROM requests GROUP BY status;
INSERT INTO delivery_counts (channel, state, n)
    SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state;
INSERT INTO outbox_counts (kind, n)
    SELECT kind, COUNT(*) FROM outbox WHERE state = 'pending' GROUP BY kind;
INSERT INTO usage_counts (channel, kind, n)
    SELECT channel, kind, SUM(count) FROM usage GROUP BY channel, kind;

CREATE FUNCTION request_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO request_count_deltas (status, n) VALUES (OLD.status, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO request_count_deltas (status, n) VALUES (NEW.status, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER request_counts_insert AFTER INSERT ON requests
    FOR EACH ROW EXECUTE FUNCTION request_counts_track();
CREATE TRIGGER request_counts_update AFTER UPDATE OF status ON requests
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION request_counts_track();
CREATE TRIGGER request_counts_delete AFTER DELETE ON requests
    FOR EACH ROW EXECUTE FUNCTION request_counts_track();

CREATE FUNCTION delivery_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO delivery_count_deltas (channel, state, n) VALUES (OLD.channel, OLD.state, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO delivery_count_deltas (channel, state, n) VALUES (NEW.channel, NEW.state, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
    FOR EACH ROW EXECUTE FUNCTION delivery_counts_track();
CREATE TRIGGER delivery_counts_update AFTER UPDATE OF channel, state ON deliveries
    FOR EACH ROW WHEN (OLD.channel IS DISTINCT FROM NEW.channel
        OR OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION delivery_counts_track();
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries
    FOR EACH ROW EXECUTE FUNCTION delivery_counts_track();

-- Only pending jobs count: a claim (lease columns) fires nothing, completing or burying one
-- takes it out, a job made pending again puts it back.
CREATE FUNCTION outbox_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.state = 'pending' THEN
        INSERT INTO outbox_count_deltas (kind, n) VALUES (OLD.kind, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.state = 'pending' THEN
        INSERT INTO outbox_count_deltas (kind, n) VALUES (NEW.kind, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_counts_insert AFTER INSERT ON outbox
    FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION outbox_counts_track();
CREATE TRIGGER outbox_counts_update AFTER UPDATE OF state, kind ON outbox
    FOR EACH ROW WHEN ((OLD.state = 'pending') <> (NEW.state = 'pending')
        OR (NEW.state = 'pending' AND OLD.kind IS DISTINCT FROM NEW.kind))
    EXECUTE FUNCTION outbox_counts_track();
CREATE TRIGGER outbox_counts_delete AFTER DELETE ON outbox
    FOR EACH ROW WHEN (OLD.state = 'pending') EXECUTE FUNCTION outbox_counts_track();

CREATE FUNCTION usage_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Metering adds one to a row that stays in its (channel, kind): one delta row.
    IF TG_OP = 'UPDATE' AND OLD.channel = NEW.channel AND OLD.kind = NEW.kind THEN
        INSERT INTO usage_count_deltas (channel, kind, n)
        VALUES (NEW.channel, NEW.kind, NEW.count - OLD.count);
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO usage_count_deltas (channel, kind, n)
        VALUES (OLD.channel, OLD.kind, -OLD.count);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO usage_count_deltas (channel, kind, n)
        VALUES (NEW.channel, NEW.kind, NEW.count);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER usage_counts_insert AFTER INSERT ON usage
    FOR EACH ROW EXECUTE FUNCTION usage_counts_track();
CREATE TRIGGER usage_counts_update AFTER UPDATE OF channel, kind, count ON usage
    FOR EACH ROW WHEN (OLD.channel IS DISTINCT FROM NEW.channel
        OR OLD.kind IS DISTINCT FROM NEW.kind OR OLD.count IS DISTINCT FROM NEW.count)
    EXECUTE FUNCTION usage_counts_track();
CREATE TRIGGER usage_counts_delete AFTER DELETE ON usage
    FOR EACH ROW EXECUTE FUNCTION usage_counts_track();
