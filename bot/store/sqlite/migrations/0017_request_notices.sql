-- index the outcome notices to submitters by request (the trace reads them)
-- A request's outcome notice to its submitter is a tell_identity job with ref
-- "<request id>/submitter"; the request's trace finds it through this index, as it finds the
-- request's steps through outbox_timing_steps.
CREATE INDEX outbox_identity_notices ON outbox (ref) WHERE kind = 'tell_identity';
