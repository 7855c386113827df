-- A rate reservation in one statement (bot.store.postgres.limits): the rule of
-- bot.core.limits.schedule, run where the budget rows are.
-- A reservation made as a client-side transaction (lock the rows, compute, write, COMMIT) held
-- the budget rows across three round trips and whatever the client did between them: a
-- replica stalled there (a busy host) held every other replica's calls to that API, and on two
-- loaded cores the app's calls fell from 48/s to under 20/s. Here the rows are locked, read and
-- written inside one call, so they are held for as long as the statement runs, whatever the
-- client does. The contract tests (tests/store/contract/test_rate_limits.py) run this and the
-- Python rule side by side.
--
-- p_keys, p_intervals, p_tolerances and p_paced describe each budget (keys distinct); paced budgets
-- set the slot, no sooner than p_lead after p_now; the others (a receiver's) must merely be
-- free by then. A new key is free now.
-- Locks are taken in key order, so two reservations sharing keys never deadlock.
CREATE FUNCTION reserve_budgets(
    p_keys TEXT[],
    p_intervals DOUBLE PRECISION[],
    p_tolerances DOUBLE PRECISION[],
    p_paced BOOLEAN[],
    p_now DOUBLE PRECISION,
    p_within DOUBLE PRECISION,
    p_lead DOUBLE PRECISION,
    OUT granted BOOLEAN,
    OUT wait DOUBLE PRECISION,
    OUT at DOUBLE PRECISION
) LANGUAGE plpgsql AS $$
DECLARE
    nexts DOUBLE PRECISION[];
    slot DOUBLE PRECISION := p_now + p_lead;
    busy DOUBLE PRECISION := p_now + p_lead;
    earliest DOUBLE PRECISION;
BEGIN
    INSERT INTO rate_limits (key, next_at)
    SELECT k, 0 FROM unnest(p_keys) AS k ORDER BY k
    ON CONFLICT (key) DO NOTHING;
    PERFORM 1 FROM rate_limits WHERE key = ANY (p_keys) ORDER BY key FOR UPDATE;
    SELECT array_agg(r.next_at ORDER BY k.n) INTO nexts
    FROM unnest(p_keys) WITH ORDINALITY AS k (key, n)
    JOIN rate_limits AS r ON r.key = k.key;
    FOR i IN 1 .. cardinality(p_keys) LOOP
        earliest := GREATEST(p_now + p_lead, nexts[i] - p_tolerances[i]);
        IF p_paced[i] THEN
            slot := GREATEST(slot, earliest);
        ELSE
            busy := GREATEST(busy, earliest);
        END IF;
    END LOOP;
    IF busy > slot THEN
        -- A receiver still busy at the slot: refused at once, nothing taken.
        SELECT false, busy - p_now, busy INTO granted, wait, at;
    ELSIF slot - p_now > p_within THEN
        SELECT false, slot - p_now - p_within, slot - p_within INTO granted, wait, at;
    ELSE
        UPDATE rate_limits AS r SET next_at = GREATEST(slot, b.next_at) + b.step
        FROM unnest(p_keys, nexts, p_intervals) AS b (key, next_at, step)
        WHERE r.key = b.key;
        SELECT true, slot - p_now, slot INTO granted, wait, at;
    END IF;
END
$$;
