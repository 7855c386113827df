-- Approvals over time: each reminder or escalation step is an outbox job of kind timing_step,
-- ref "<request id>/<Step.key>", due at the step's time. One job per step and request; the
-- prefix range on ref (text_pattern_ops: a range scan whatever the collation) finds a
-- request's pending steps when it closes (cancel_steps).
CREATE UNIQUE INDEX outbox_timing_steps ON outbox (ref text_pattern_ops) WHERE kind = 'timing_step';
