-- Approvals over time: each reminder or escalation step is an outbox job of kind timing_step,
-- ref "<request id>/<Step.key>", due at the step's time. One job per step and request (a
-- resubmission or a replayed plan cannot queue a step twice); the prefix range on ref finds a
-- request's pending steps when it closes (cancel_steps).
CREATE UNIQUE INDEX outbox_timing_steps ON outbox (ref) WHERE kind = 'timing_step';
