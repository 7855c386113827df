-- A rate reservation with sliding windows' turns in one statement (bot.store.postgres.limits)
-- A call paced by a window (Lark's 1000 calls in any 60 s, bot.core.limits.Window) took its
-- turn of the window's counter in one statement and its slot in another: two round trips per
-- platform call. Here both happen in one: the rule of bot.core.limits.turns, then
-- reserve_budgets (migration 0005) with the lanes the turns fall on.
--
-- p_windows: each window's key; p_kept: a turn given back for it (NULL: take the counter's
-- next turn); p_calls and p_lane_intervals: its lanes. The rest is reserve_budgets'. Counters
-- are locked first, in key order, then the budgets in key order: every reservation takes the
-- counters before any budget, so none waits for a counter while holding a budget.
CREATE FUNCTION reserve_in_windows(
    p_windows TEXT[],
    p_kept DOUBLE PRECISION[],
    p_calls INTEGER[],
    p_lane_intervals DOUBLE PRECISION[],
    p_keys TEXT[],
    p_intervals DOUBLE PRECISION[],
    p_tolerances DOUBLE PRECISION[],
    p_paced BOOLEAN[],
    p_now DOUBLE PRECISION,
    p_within DOUBLE PRECISION,
    p_lead DOUBLE PRECISION,
    OUT granted BOOLEAN,
    OUT wait DOUBLE PRECISION,
    OUT at DOUBLE PRECISION,
    OUT turns DOUBLE PRECISION[]
) LANGUAGE plpgsql AS $$
DECLARE
    counters TEXT[];
    counter_at DOUBLE PRECISION;
    keys TEXT[];
    intervals DOUBLE PRECISION[];
    tolerances DOUBLE PRECISION[];
    paced BOOLEAN[];
BEGIN
    SELECT array_agg(DISTINCT w || ':turn') INTO counters
    FROM unnest(p_windows, p_kept) AS t (w, kept) WHERE kept IS NULL;
    INSERT INTO rate_limits (key, next_at)
    SELECT k, 0 FROM unnest(counters) AS k ORDER BY k
    ON CONFLICT (key) DO NOTHING;
    PERFORM 1 FROM rate_limits WHERE key = ANY (counters) ORDER BY key FOR UPDATE;
    turns := p_kept;
    FOR i IN 1 .. cardinality(p_windows) LOOP
        IF turns[i] IS NULL THEN
            -- The counter's slot: a budget of one a second, no tolerance, no bound on the wait.
            SELECT r.next_at INTO counter_at FROM rate_limits AS r WHERE r.key = p_windows[i] || ':turn';
            turns[i] := GREATEST(p_now, counter_at);
            UPDATE rate_limits AS r SET next_at = GREATEST(turns[i], counter_at) + 1.0
            WHERE r.key = p_windows[i] || ':turn';
        END IF;
    END LOOP;
    -- Each key once, a paced one before a receiver's, the first given otherwise; key order.
    SELECT array_agg(b.key ORDER BY b.key), array_agg(b.step ORDER BY b.key),
           array_agg(b.tolerance ORDER BY b.key), array_agg(b.paced ORDER BY b.key)
    INTO keys, intervals, tolerances, paced
    FROM (
        SELECT DISTINCT ON (u.key) u.key, u.step, u.tolerance, u.paced
        FROM (
            SELECT k AS key, s AS step, tol AS tolerance, pc AS paced, n
            FROM unnest(p_keys, p_intervals, p_tolerances, p_paced)
                WITH ORDINALITY AS a (k, s, tol, pc, n)
            UNION ALL
            SELECT w || ':lane:' || (floor(t)::BIGINT % c)::TEXT, li, 0, true, 0
            FROM unnest(p_windows, turns, p_calls, p_lane_intervals) AS l (w, t, c, li)
        ) AS u
        ORDER BY u.key, u.paced DESC, u.n
    ) AS b;
    SELECT r.granted, r.wait, r.at INTO granted, wait, at
    FROM reserve_budgets(keys, intervals, tolerances, paced, p_now, p_within, p_lead) AS r;
END
$$;
