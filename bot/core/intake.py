"""The intake contract: what a ticket backend submits, checked field by field.

Strict pydantic models that name the offending field: the ticket with its approvers or stages,
its vote rules (self-approval, quorum) and its timing (reminders, escalation, on_expiry), and
the cross-field rules between them. The stored entities built from it are in
:mod:`bot.core.models`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.core.timing.durations import Duration
from bot.core.timing.urgency import UrgencyKind as UrgencyKind  # re-exported: part of the contract

Locale = Literal["zh-CN", "en-US"]
ChannelName = str  # "lark", "dingtalk", "dingtalk_enterprise", "email", "memory", ...


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def in_utc_range(value: datetime) -> datetime:
    """The instant in UTC, when it lies between 2000 and 9000 (stored times must convert)."""
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise ValueError("must be between 2000-01-01 and 9000-01-01 (UTC)")
    return moment


Instant = Annotated[AwareDatetime, AfterValidator(in_utc_range)]


def _no_control(value: str) -> str:
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise ValueError("must not contain control characters")
    return value


Text = Annotated[str, AfterValidator(_no_control)]


class Wire(BaseModel):
    """Base of every model read from the network: unknown fields are an error the caller sees."""

    # defer_build (here and on Entity): each model's validator is built when first used, not
    # at import. CLI commands import these modules through the store and use few or none of
    # the models (building them all was about a twentieth of ``tokens list``'s start).
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True
    )


class AccountType(StrEnum):
    """Kinds of cloud account; routing depends on it."""

    MAIN = "main"
    RAM = "ram"
    ROLE = "role"


class FieldKind(StrEnum):
    """How a ticket field is drawn: plain text, a code block (SQL), or a risk tag."""

    TEXT = "text"
    CODE = "code"
    RISK = "risk"


RISK_LEVELS = ("low", "medium", "high")


class TicketField(Wire):
    """A name/value line shown on the card; ``kind`` says how it is drawn."""

    name: Text = Field(min_length=1, max_length=200)
    value: Text = Field(max_length=10_000)
    kind: FieldKind = FieldKind.TEXT

    @model_validator(mode="after")
    def _risk_level(self) -> TicketField:
        if self.kind is FieldKind.RISK and self.value not in RISK_LEVELS:
            _fail(("value",), f"a risk field's value is one of {', '.join(RISK_LEVELS)}")
        return self


class Person(Wire):
    """Someone identified by their cloud account."""

    account_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/-]+$")
    display_name: Text = Field(min_length=1, max_length=200)


class Approver(Person):
    """An account that may decide the request."""

    account_type: AccountType
    region: str = Field("cn", min_length=2, max_length=32, pattern=r"^[a-z0-9-]+$")


class Submitter(Person):
    """Who asked for the approval. ``account_type`` and ``region`` route the outcome notice
    (``notify_submitter``) like an approver's card; without a type, the notice goes to chat only,
    since email must not reach a RAM user (README "Multi-approver policies")."""

    account_type: AccountType | None = None
    region: str = Field("cn", min_length=2, max_length=32, pattern=r"^[a-z0-9-]+$")


def _unique(approvers: list[Approver]) -> list[Approver]:
    seen: set[str] = set()
    for approver in approvers:
        if approver.account_id in seen:
            raise ValueError(f"approver {approver.account_id} is listed twice")
        seen.add(approver.account_id)
    return approvers


def _fail(loc: tuple[str | int, ...], message: str) -> NoReturn:
    # a model validator's ValueError has no location; this one names the field it is about
    error = PydanticCustomError("invalid_policy", message)
    raise ValidationError.from_exception_data(
        "ApprovalRequest", [InitErrorDetails(type=error, loc=loc, input=None)]
    )


# --- multi-approver policies (rules applied by bot.core.policy) ---
MAX_STAGES = 10
MAX_APPROVERS = 100  # in all stages together


class Rule(StrEnum):
    """How a stage's votes decide it."""

    ANY = "any"  # the first vote decides, as a request without a policy always has
    ALL = "all"  # every approver approves; one rejection rejects
    QUORUM = "quorum"  # ``quorum`` approvals approve; rejected once that is out of reach


class VotePolicy(Wire):
    """The rule of a one-stage request, and whether the submitter may approve their own."""

    rule: Rule = Rule.ANY
    quorum: int | None = Field(None, ge=1, le=MAX_APPROVERS)
    allow_self_approval: bool = False


class Stage(Wire):
    """One step of an ordered approval: its approvers and the rule that decides it."""

    name: Text = Field(min_length=1, max_length=200)
    approvers: Annotated[list[Approver], AfterValidator(_unique)] = Field(
        min_length=1, max_length=MAX_APPROVERS
    )
    rule: Rule = Rule.ANY
    quorum: int | None = Field(None, ge=1, le=MAX_APPROVERS)


# -- Approvals over time: the intake's reminders, escalation ladder and expiry outcome --------
OnExpiry = Literal["reject", "expire", "approve"]
MAX_STEPS = 10  # reminders per request, and escalation steps per request


class Reminders(Wire):
    """Reminder n goes at ``after + (n - 1) * every``, up to ``max`` (else as many as fit)."""

    after: Duration
    every: Duration | None = None
    max: int | None = Field(None, ge=1, le=MAX_STEPS)
    urgent: UrgencyKind | None = None

    @model_validator(mode="after")
    def _every_for_more_than_one(self) -> Reminders:
        if self.every is None and self.max is not None and self.max > 1:
            raise ValueError("every is required when max is over 1")
        return self


class EscalationStep(Wire):
    """One rung of the ladder, ``after`` the request was created: exactly one action."""

    after: Duration
    notify: Literal["email"] | None = None  # an email reminder to each approver still to vote
    urgent: UrgencyKind | None = None
    add_approvers: list[Approver] | None = Field(None, min_length=1, max_length=10)

    @model_validator(mode="after")
    def _one_action(self) -> EscalationStep:
        actions = [self.notify, self.urgent, self.add_approvers]
        if sum(action is not None for action in actions) != 1:
            raise ValueError("give exactly one of notify, urgent or add_approvers")
        return self


def _reminders(value: Any) -> Reminders | Literal["off"] | None:
    # By hand, not as a union: an error then names reminders.after, not the union's branch.
    if value is None or value == "off" or isinstance(value, Reminders):
        return value  # type: ignore[no-any-return]
    return Reminders.model_validate(value)


def _reminders_out(value: Reminders | str | None) -> Any:
    return value.model_dump(mode="json") if isinstance(value, Reminders) else value


def _ladder(steps: list[EscalationStep]) -> list[EscalationStep]:
    for index, (before, step) in enumerate(pairwise(steps), start=1):
        if step.after < before.after:
            raise ValueError(f"step {index} comes before step {index - 1}: order them by after")
    return steps


class ApprovalRequest(Wire):
    """What the ticket backend submits: the ticket and who must sign it off.

    Either ``approvers`` (one stage, ruled by ``policy``) or ``stages`` (run in order).
    """

    ticket_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    title: Text = Field(min_length=1, max_length=2_000)
    summary: Text = Field("", max_length=20_000)
    fields: list[TicketField] = Field(default_factory=list, max_length=100)
    submitter: Submitter
    # ``stages`` before ``approvers``: the check that one of them is given runs with the
    # other fields' checks, so a request wrong in several places hears of each at once.
    stages: list[Stage] | None = Field(None, min_length=1, max_length=MAX_STAGES)
    approvers: Annotated[list[Approver], AfterValidator(_unique)] = Field(
        default_factory=list, max_length=MAX_APPROVERS, validate_default=True
    )
    policy: VotePolicy | None = None
    notify_submitter: bool = False
    console_url: HttpUrl
    expires_at: Instant
    locale: Locale = "en-US"
    # Approvals over time (README "Approvals over time"); absent or null: the deployment's
    # defaults, and "off" turns the deployment's reminders off for this request.
    reminders: Annotated[
        Reminders | Literal["off"] | None,
        PlainValidator(_reminders, json_schema_input_type=Reminders | Literal["off"] | None),
        PlainSerializer(_reminders_out),
    ] = None
    escalation: Annotated[list[EscalationStep], AfterValidator(_ladder)] = Field(
        default_factory=list, max_length=MAX_STEPS
    )
    on_expiry: OnExpiry | None = None

    @field_validator("escalation")
    @classmethod
    def _added_approvers_are_new(
        cls, steps: list[EscalationStep], info: ValidationInfo
    ) -> list[EscalationStep]:
        stages = info.data.get("stages") or ()
        listed = [*info.data.get("approvers", ()), *(a for s in stages for a in s.approvers)]
        seen = {approver.account_id for approver in listed}
        submitter, policy = info.data.get("submitter"), info.data.get("policy")
        # The self-approval rule of the request holds for the people it adds, as for the others.
        allowed = policy.allow_self_approval if policy else info.data.get("stages") is None
        for step in steps:
            for approver in step.add_approvers or ():
                if approver.account_id in seen:
                    raise ValueError(f"adds {approver.account_id}, already an approver")
                if submitter and approver.account_id == submitter.account_id and not allowed:
                    raise ValueError(
                        f"adds {approver.account_id}, the submitter (no self-approval)"
                    )
                seen.add(approver.account_id)
        if len(seen) > MAX_APPROVERS:
            raise ValueError(f"at most {MAX_APPROVERS} approvers with those added, not {len(seen)}")
        return steps

    @field_validator("approvers")
    @classmethod
    def _some_roster(cls, approvers: list[Approver], info: ValidationInfo) -> list[Approver]:
        if not approvers and info.data.get("stages") is None:
            raise ValueError("give at least one approver, or stages")
        return approvers

    @model_validator(mode="after")
    def _one_roster(self) -> ApprovalRequest:
        if self.stages is None:
            eligible = self._eligible(self.approvers)
            _check_rule(("policy",), ("approvers",), self.policy or VotePolicy(), eligible)
            return self
        if self.approvers:
            _fail(("stages",), "give approvers or stages, not both")
        if self.policy is not None and (self.policy.rule, self.policy.quorum) != (Rule.ANY, None):
            _fail(("policy", "rule"), "with stages, each stage carries its own rule")
        total = sum(len(stage.approvers) for stage in self.stages)
        if total > MAX_APPROVERS:
            _fail(("stages",), f"at most {MAX_APPROVERS} approvers in all stages, not {total}")
        for index, stage in enumerate(self.stages):
            where = ("stages", index)
            _check_rule(where, (*where, "approvers"), stage, self._eligible(stage.approvers))
        return self

    @property
    def self_approval(self) -> bool:
        """Whether the submitter's own account may vote: only if allowed, or if the request
        uses neither ``policy`` nor ``stages`` (such requests keep the first-click rule)."""
        if self.policy is None:
            return self.stages is None
        return self.policy.allow_self_approval

    def _eligible(self, approvers: list[Approver]) -> int:
        own = self.submitter.account_id
        return sum(1 for a in approvers if self.self_approval or a.account_id != own)


Loc = tuple[str | int, ...]


def _check_rule(loc: Loc, roster: Loc, rule: VotePolicy | Stage, eligible: int) -> None:
    if eligible == 0:
        _fail(roster, "no approver is left once the submitter is taken out")
    if rule.rule is not Rule.QUORUM:
        if rule.quorum is not None:
            _fail((*loc, "quorum"), 'quorum is only for rule "quorum"')
        return
    if rule.quorum is None:
        _fail((*loc, "quorum"), 'rule "quorum" needs a quorum')
    elif rule.quorum > eligible:
        _fail(
            (*loc, "quorum"),
            f"quorum {rule.quorum} is more than the approvers who may vote ({eligible})",
        )
