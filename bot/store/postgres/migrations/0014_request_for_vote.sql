-- lock a clicked card's request and read it, with its votes, in one call
-- A click counts the votes of its request under the request's row lock (a second click on the
-- same request, on any replica, waits for the first one's commit), then reads the request, its
-- cards, its decision and its votes: every vote committed before the lock was granted must be
-- in that read. In READ COMMITTED a statement reads the snapshot taken when it started, before
-- any wait for a lock, so the read cannot share the locking statement; as two statements from
-- the client they cost two round trips (four, with the card and the votes read on their own).
-- A VOLATILE function's statements each take a new snapshot: here the read follows the lock
-- inside one call. NULL for an unknown card. The request's columns come as one JSON object,
-- beside its decision, deliveries (as get_request returns them) and votes (as
-- votes_of_request), so a column added to requests later is read here too.
CREATE FUNCTION request_for_vote(p_card TEXT) RETURNS json LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    locked TEXT;
    found json;
BEGIN
    SELECT r.id INTO locked FROM deliveries d JOIN requests r ON r.id = d.request_id
    WHERE d.id = p_card FOR UPDATE OF r;
    IF locked IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT json_build_object(
        'request', to_json(r),
        'decision', (SELECT to_json(x) FROM decisions x WHERE x.request_id = r.id),
        'deliveries', (SELECT COALESCE(json_agg(to_json(x) ORDER BY x.created_at, x.id), '[]'::json)
            FROM (SELECT d.*, p.time_zone, (SELECT COALESCE(json_agg(json_build_object('at', e.at,
                'state', e.state, 'detail', e.detail) ORDER BY e.id), '[]'::json)
                FROM delivery_events e WHERE e.delivery_id = d.id) AS events
            FROM deliveries d LEFT JOIN account_preferences p ON p.account_id = d.account_id
            WHERE d.request_id = r.id) AS x),
        'votes', (SELECT COALESCE(json_agg(json_build_object('stage', v.stage,
            'account_id', v.account_id, 'outcome', v.outcome, 'comment', v.comment,
            'display_name', v.display_name, 'channel', v.channel, 'at', v.at)
            ORDER BY v.at, v.stage, v.account_id), '[]'::json)
            FROM votes v WHERE v.request_id = r.id))
    INTO found FROM requests r WHERE r.id = locked;
    RETURN found;
END
$$;
