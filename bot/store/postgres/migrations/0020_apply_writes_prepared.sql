-- run a transaction's deferred writes with plans kept across calls
-- 0017's apply_writes ran each held write as dynamic SQL (EXECUTE), which PL/pgSQL parses and
-- plans on every call: a submission's two held writes cost more server CPU than the round trips
-- they saved. Now a write that names itself ("name": fixed by its text, bot/store/postgres/tx.py)
-- runs as a prepared statement of the session, prepared on its first use there; the session
-- setting "approval_gateway.<name>" remembers that, so later calls skip the catalogue look-up
-- (a rolled-back first use forgets the setting but not the statement: the look-up then finds
-- it). A write that says the count it must change still runs as dynamic SQL: the ROW_COUNT of
-- an EXECUTE of a prepared INSERT or UPDATE reads 0, so its count is taken the old way.
-- Everything else is as in 0017: in order, each write seeing the ones before, any error (or a
-- count other than the one a write said it must make) stopping the call and the transaction.
CREATE OR REPLACE FUNCTION apply_writes(p_writes json) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w json;
    v_name text;
    changed integer;
    n integer := 0;
BEGIN
    FOR w IN SELECT value FROM json_array_elements(p_writes) LOOP
        v_name := w->>'name';
        IF v_name IS NULL OR json_typeof(w->'changes') = 'number' THEN
            EXECUTE w->>'sql' USING w->'args';
            GET DIAGNOSTICS changed = ROW_COUNT;
            IF json_typeof(w->'changes') = 'number' AND changed <> (w->>'changes')::integer THEN
                RAISE EXCEPTION 'a write expected to change % row(s) changed %',
                    w->>'changes', changed;
            END IF;
        ELSE
            IF coalesce(current_setting('approval_gateway.' || v_name, true), '') = '' THEN
                IF NOT EXISTS (SELECT 1 FROM pg_prepared_statements p WHERE p.name = v_name) THEN
                    EXECUTE format('PREPARE %I(json) AS %s', v_name, w->>'sql');
                END IF;
                PERFORM set_config('approval_gateway.' || v_name, 'prepared', false);
            END IF;
            EXECUTE format('EXECUTE %I(%L)', v_name, w->'args');
        END IF;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
