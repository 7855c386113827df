INSERT INTO requests (id, ticket_id, status, ticket, created_at, expires_at)
    SELECT 'r' || k, 't' || k, 'pending', '{}', '2026-01-01', '2027-01-01'
    FROM generate_series(1, $1::int) AS k;
INSERT INTO deliveries (id, request_id, account_id, channel, state, created_at, updated_at)
    SELECT 'd' || k, 'r' || k, 'a', 'lark', 'sent', 'x', 'x' FROM generate_series(1, $1::int) AS k;
INSERT INTO outbox (kind, ref, next_attempt_at, created_at)
    SELECT 'send_card', 'd' || k, '2027', 'x' FROM generate_series(1, $1::int) AS k
