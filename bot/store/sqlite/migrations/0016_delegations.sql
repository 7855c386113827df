-- delegations: an approver away names a delegate for a window (README "Approvals over time")
-- One row per approver and window start; windows of one approver never overlap (checked when
-- set, bot.core.delegation.check). Ended rows stay as history; the ends_at index finds those
-- still current (now or ahead) for routing and for the checks.
CREATE TABLE delegations (
    account_id TEXT NOT NULL,
    delegate_id TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL,
    PRIMARY KEY (account_id, starts_at)
);
CREATE INDEX delegations_ends_at ON delegations (ends_at);
