-- a click's request read with its approvers' bindings on the clicked channel, in the same call
-- A click checks that the clicker is still bound to the card's approver on that channel: read
-- after the request's lock was granted, as migration 0014's read is, it was a round trip of its
-- own. This overload locks and reads the request through migration 0014's function, then reads
-- the bindings on p_channel of the accounts the request's cards went to (a new statement: after
-- the lock, with what committed while it waited). {"found": what request_for_vote(p_card)
-- returns, "bound": {account_id: address}}; NULL for an unknown card. The one-argument function
-- stays, for a replica still running the code before this migration.
CREATE FUNCTION request_for_vote(p_card TEXT, p_channel TEXT) RETURNS json LANGUAGE plpgsql
VOLATILE AS $$
DECLARE
    found json;
BEGIN
    found := request_for_vote(p_card);
    IF found IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN json_build_object('found', found, 'bound', (
        SELECT COALESCE(json_object_agg(b.account_id, b.address), '{}'::json) FROM bindings b
        WHERE b.channel = p_channel AND b.account_id IN (SELECT d.account_id FROM deliveries d
            WHERE d.request_id = found->'request'->>'id')));
END
$$;
