"""The deployment's defaults for approvals over time, and the intake rules that need a clock.

The request's own fields override the defaults. What the model alone cannot tell is checked
here, at submission: no step may fall at or after ``expires_at`` (the steps count from the
moment the request is created), and ``on_expiry: "approve"`` needs the deployment to allow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.intake import ApprovalRequest, OnExpiry, Reminders
from bot.core.timing.quiet import DEFAULT_ZONES, QuietHours
from bot.errors import InvalidInput

AUTO_APPROVE_SETTING = "APPROVAL_GATEWAY_REMINDERS__ALLOW_AUTO_APPROVE"


@dataclass(frozen=True)
class TimingPolicy:
    """Deployment-wide defaults (built from the settings); off unless configured."""

    reminders: Reminders | None = None
    on_expiry: OnExpiry = "expire"
    allow_auto_approve: bool = False
    quiet: QuietHours | None = None
    zones: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ZONES))
    remind_now_every: timedelta = timedelta(minutes=10)  # one remind now per approver per this

    def reminders_for(self, ticket: ApprovalRequest) -> Reminders | None:
        """The request's reminders, the deployment's when it names none, none when "off"."""
        if ticket.reminders == "off":
            return None
        return ticket.reminders or self.reminders

    def has_steps(self, ticket: ApprovalRequest) -> bool:
        """Whether the request has any reminder or escalation step to schedule."""
        return self.reminders_for(ticket) is not None or bool(ticket.escalation)

    def outcome_for(self, ticket: ApprovalRequest) -> OnExpiry:
        """What happens at ``expires_at``."""
        return ticket.on_expiry or self.on_expiry


def check_intake(ticket: ApprovalRequest, now: datetime, policy: TimingPolicy) -> None:
    """Refuse (InvalidInput, field by field) what the deployment or the deadline rules out."""
    fields = {**_auto_approve(ticket, policy), **_deadline(ticket, now)}
    if fields:
        raise InvalidInput("the request's reminders, escalation or on_expiry are invalid", fields)


def _auto_approve(ticket: ApprovalRequest, policy: TimingPolicy) -> dict[str, str]:
    if ticket.on_expiry != "approve" or policy.allow_auto_approve:
        return {}
    return {
        "on_expiry": f"approve is off in this deployment: set {AUTO_APPROVE_SETTING}=true "
        "([reminders] allow_auto_approve) to allow it"
    }


def _deadline(ticket: ApprovalRequest, now: datetime) -> dict[str, str]:
    late = "falls at or after expires_at"
    fields: dict[str, str] = {}
    own = ticket.reminders if isinstance(ticket.reminders, Reminders) else None
    if own is not None and now + own.after >= ticket.expires_at:
        fields["reminders.after"] = late
    elif own is not None and own.max is not None and own.every is not None:
        last = now + own.after + (own.max - 1) * own.every
        if last >= ticket.expires_at:
            fields["reminders.max"] = f"reminder {own.max} {late}"
    for index, step in enumerate(ticket.escalation):
        if now + step.after >= ticket.expires_at:
            fields[f"escalation.{index}.after"] = late
    return fields
