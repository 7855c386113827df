-- run a transaction's deferred writes, in order, in one call
-- Each statement from the client is a round trip; the writes whose outcome the gateway does not
-- read (a job queued, an audit line, a decision recorded) are held by the transaction and sent
-- here together (bot/store/postgres/tx.py). Each element is {"sql": the statement, its values
-- read from $1, "args": those values as a JSON array, "changes": the count of rows it must
-- change or return, or null}. A VOLATILE function's statements each see the ones run before
-- them, as separate statements of the transaction would; an error in any stops the call, and
-- the transaction, as it would have stopped at that statement, and so does a count other than
-- the one a write said it must make (what the caller would have checked on reading it).
-- SECURITY INVOKER (the default): it runs what the connection's own role may run, nothing more.
CREATE FUNCTION apply_writes(p_writes json) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w json;
    changed integer;
    n integer := 0;
BEGIN
    FOR w IN SELECT value FROM json_array_elements(p_writes) LOOP
        EXECUTE w->>'sql' USING w->'args';
        GET DIAGNOSTICS changed = ROW_COUNT;
        IF json_typeof(w->'changes') = 'number' AND changed <> (w->>'changes')::integer THEN
            RAISE EXCEPTION 'a write expected to change % row(s) changed %',
                w->>'changes', changed;
        END IF;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
