-- counts for /metrics kept as rows change (requests, deliveries, pending outbox jobs, usage)
-- Each counts table is maintained by triggers in the transaction of the change, so a scrape
-- reads a few rows whatever the size of the tables, and every replica reads the same numbers.
-- Written to port: the upserts and updates are plain SQL that PostgreSQL takes as they are
-- (inside one trigger function per table there).

CREATE TABLE request_counts (
    status TEXT PRIMARY KEY,
    n INTEGER NOT NULL
);
CREATE TABLE delivery_counts (
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (channel, state)
);
CREATE TABLE outbox_counts (
    kind TEXT PRIMARY KEY,
    n INTEGER NOT NULL
);
CREATE TABLE usage_counts (
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (channel, kind)
);

INSERT INTO request_counts (status, n) SELECT status, COUNT(*) FROM requests GROUP BY status;
INSERT INTO delivery_counts (channel, state, n)
    SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state;
INSERT INTO outbox_counts (kind, n)
    SELECT kind, COUNT(*) FROM outbox WHERE state = 'pending' GROUP BY kind;
INSERT INTO usage_counts (channel, kind, n)
    SELECT channel, kind, SUM(count) FROM usage GROUP BY channel, kind;

CREATE TRIGGER request_counts_insert AFTER INSERT ON requests BEGIN
    INSERT INTO request_counts (status, n) VALUES (NEW.status, 1)
    ON CONFLICT (status) DO UPDATE SET n = request_counts.n + 1;
END;
CREATE TRIGGER request_counts_update AFTER UPDATE OF status ON requests
WHEN OLD.status <> NEW.status BEGIN
    UPDATE request_counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO request_counts (status, n) VALUES (NEW.status, 1)
    ON CONFLICT (status) DO UPDATE SET n = request_counts.n + 1;
END;
CREATE TRIGGER request_counts_delete AFTER DELETE ON requests BEGIN
    UPDATE request_counts SET n = n - 1 WHERE status = OLD.status;
END;

CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries BEGIN
    INSERT INTO delivery_counts (channel, state, n) VALUES (NEW.channel, NEW.state, 1)
    ON CONFLICT (channel, state) DO UPDATE SET n = delivery_counts.n + 1;
END;
CREATE TRIGGER delivery_counts_update AFTER UPDATE OF channel, state ON deliveries
WHEN OLD.channel <> NEW.channel OR OLD.state <> NEW.state BEGIN
    UPDATE delivery_counts SET n = n - 1 WHERE channel = OLD.channel AND state = OLD.state;
    INSERT INTO delivery_counts (channel, state, n) VALUES (NEW.channel, NEW.state, 1)
    ON CONFLICT (channel, state) DO UPDATE SET n = delivery_counts.n + 1;
END;
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries BEGIN
    UPDATE delivery_counts SET n = n - 1 WHERE channel = OLD.channel AND state = OLD.state;
END;

CREATE TRIGGER outbox_counts_insert AFTER INSERT ON outbox WHEN NEW.state = 'pending' BEGIN
    INSERT INTO outbox_counts (kind, n) VALUES (NEW.kind, 1)
    ON CONFLICT (kind) DO UPDATE SET n = outbox_counts.n + 1;
END;
CREATE TRIGGER outbox_counts_leave AFTER UPDATE OF state, kind ON outbox
WHEN OLD.state = 'pending' AND (NEW.state <> 'pending' OR NEW.kind <> OLD.kind) BEGIN
    UPDATE outbox_counts SET n = n - 1 WHERE kind = OLD.kind;
END;
CREATE TRIGGER outbox_counts_enter AFTER UPDATE OF state, kind ON outbox
WHEN NEW.state = 'pending' AND (OLD.state <> 'pending' OR NEW.kind <> OLD.kind) BEGIN
    INSERT INTO outbox_counts (kind, n) VALUES (NEW.kind, 1)
    ON CONFLICT (kind) DO UPDATE SET n = outbox_counts.n + 1;
END;
CREATE TRIGGER outbox_counts_delete AFTER DELETE ON outbox WHEN OLD.state = 'pending' BEGIN
    UPDATE outbox_counts SET n = n - 1 WHERE kind = OLD.kind;
END;

CREATE TRIGGER usage_counts_insert AFTER INSERT ON usage BEGIN
    INSERT INTO usage_counts (channel, kind, n) VALUES (NEW.channel, NEW.kind, NEW.count)
    ON CONFLICT (channel, kind) DO UPDATE SET n = usage_counts.n + NEW.count;
END;
CREATE TRIGGER usage_counts_update AFTER UPDATE OF count ON usage BEGIN
    UPDATE usage_counts SET n = n + NEW.count - OLD.count
    WHERE channel = NEW.channel AND kind = NEW.kind;
END;
CREATE TRIGGER usage_counts_delete AFTER DELETE ON usage BEGIN
    UPDATE usage_counts SET n = n - OLD.count WHERE channel = OLD.channel AND kind = OLD.kind;
END;
