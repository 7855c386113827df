-- run a transaction's deferred writes, in order, in one call
-- Each statement from the client is a round trip; the writes whose outcome the gateway does not
-- read (a job queued, an audit line, a decision recorded) are held by the transaction and sent
-- here together (bot/store/postgres/tx.py). Each element is {"sql": the statement, its values
-- read from $1, "args": those values as a JSON array}. A VOLATILE function's statements each
-- see the ones run before them, as separate statements of the transaction would; an error in
-- any stops the call, and the transaction, as it would have stopped at that statement.
-- SECURITY INVOKER (the default): it runs what the connection's own role may run, nothing more.
CREATE FUNCTION apply_writes(p_writes json) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w json;
    n integer := 0;
BEGIN
    FOR w IN SELECT value FROM json_array_elements(p_writes) LOOP
        EXECUTE w->>'sql' USING w->'args';
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
