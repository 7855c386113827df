UPDATE requests SET status = 'approved' WHERE id = 'r' || $1::int;
UPDATE deliveries SET state = 'approved' WHERE id = 'd' || $1::int;
UPDATE outbox SET state = 'done' WHERE id = $1::int
