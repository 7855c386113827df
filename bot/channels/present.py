"""From domain state to what a person sees: card views and click toasts.

Every channel renders through here, so an approver sees the same words whatever the platform.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.channels.tally import view_progress
from bot.core.intake import ApprovalRequest, Approver
from bot.core.models import (
    ActionResult,
    ActionStatus,
    Delivery,
    ForwardState,
    RequestStatus,
    StoredRequest,
)
from bot.core.timing.quiet import zone_for
from cards import (
    ApprovalView,
    CardState,
    FieldKind,
    Locale,
    ViewDecision,
    ViewField,
    ViewProgress,
)
from cards.i18n import format_time

# Deliveries of support's test cards carry this prefix; they are drawn as test cards.
TEST_PREFIX = "test-"
# A test card's buttons carry its language after this mark: its click finds no stored request
# to ask, and its toast must still speak the card's language.
_LOCALE_MARK = "@"

_STATE = {
    RequestStatus.PENDING: CardState.PENDING,
    RequestStatus.APPROVED: CardState.APPROVED,
    RequestStatus.REJECTED: CardState.REJECTED,
    RequestStatus.WITHDRAWN: CardState.WITHDRAWN,
    RequestStatus.EXPIRED: CardState.EXPIRED,
}


def card_state(request: StoredRequest) -> CardState:
    """The state a card of this request shows now."""
    decision = request.decision
    if decision is not None and decision.forward_state is ForwardState.FAILED:
        return CardState.FAILED
    return _STATE[request.status]


def ticket_card(
    ticket: ApprovalRequest,
    *,
    approver: str,
    state: CardState,
    locale: Locale,
    decision: ViewDecision | None = None,
    action_ref: str = "",
    note: str | None = None,
    progress: ViewProgress | None = None,
    time_zone: str | None = None,
    handed_to: str | None = None,
    hand_over_to: tuple[str, ...] = (),
) -> ApprovalView:
    """The view of ``ticket`` as ``approver`` holds it in ``state`` (times in ``time_zone``,
    the approver's own, else the zone of the ticket's locale as quiet hours use it)."""
    return ApprovalView(
        ticket_id=ticket.ticket_id,
        title=ticket.title,
        summary=ticket.summary,
        fields=tuple(
            ViewField(name=f.name, value=f.value, kind=FieldKind(f.kind)) for f in ticket.fields
        ),
        submitter=ticket.submitter.display_name,
        approver=approver,
        console_url=str(ticket.console_url),
        expires_at=ticket.expires_at,
        locale=locale,
        state=state,
        decision=decision,
        action_ref=action_ref,
        note=note,
        progress=progress,
        time_zone=zone_for(time_zone, ticket.locale).key,
        handed_to=handed_to,
        hand_over_to=hand_over_to,
    )


def card_view(
    request: StoredRequest, delivery: Delivery, hand_over_to: tuple[str, ...] = ()
) -> ApprovalView:
    """The approval view of ``request`` for the approver of ``delivery`` (whose picker, on a
    channel with one, offers ``hand_over_to``)."""
    approver = request.approver(delivery.account_id)
    decision = request.decision
    failed = decision is not None and decision.forward_state is ForwardState.FAILED
    taker = handed_to(request, delivery.account_id)
    # A card handed over shows the stage as the one who took it over sees it.
    holder = taker.account_id if taker else delivery.account_id
    return ticket_card(
        request.ticket,
        approver=approver.display_name if approver else _own_name(request, delivery.account_id),
        state=CardState.TEST if delivery.id.startswith(TEST_PREFIX) else card_state(request),
        locale=Locale(request.ticket.locale),
        decision=None
        if decision is None
        else ViewDecision(
            by=decision.display_name, at=decision.decided_at, comment=decision.comment
        ),
        action_ref=_action_ref(request, delivery),
        note=decision.forward_detail if failed and decision else None,
        progress=view_progress(request, holder),
        time_zone=delivery.time_zone,
        handed_to=taker.display_name if taker else None,
        hand_over_to=hand_over_to,
    )


def handed_to(request: StoredRequest, account_id: str) -> Approver | None:
    """Who ``account_id`` handed the request over to, if they did (the last in a chain)."""
    taker = None
    for change in request.changes:
        if change.replaces == (taker.account_id if taker else account_id):
            taker = change.approver
    return taker


def _own_name(request: StoredRequest, account_id: str) -> str:
    # An approver who handed the request over is no longer on its roster: their name as it was.
    names = (c.replaced_name for c in request.changes if c.replaces == account_id)
    return next((name for name in names if name), account_id)


def _action_ref(request: StoredRequest, delivery: Delivery) -> str:
    if delivery.id.startswith(TEST_PREFIX):
        return f"{delivery.id}{_LOCALE_MARK}{request.ticket.locale}"
    return delivery.id


def _clicked_locale(ref: str) -> str:
    _, mark, locale = ref.rpartition(_LOCALE_MARK)
    return locale if mark and locale in (loc.value for loc in Locale) else Locale.EN_US.value


_TOASTS: dict[ActionStatus, dict[str, str]] = {
    ActionStatus.DECIDED: {
        "en-US": "Thanks — your decision was recorded.",
        "zh-CN": "已记录你的审批意见。",
    },
    ActionStatus.ALREADY_DECIDED: {
        "en-US": "Already decided by {by} at {at}.",
        "zh-CN": "已由 {by} 于 {at} 处理。",
    },
    ActionStatus.CLOSED: {"en-US": "This request is {status}.", "zh-CN": "该审批已{status}。"},
    ActionStatus.NOT_APPROVER: {
        "en-US": "You are not an approver of this ticket.",
        "zh-CN": "你不是该工单的审批人。",
    },
    ActionStatus.UNLINKED: {
        "en-US": "This chat account is no longer linked to the approver.",
        "zh-CN": "此聊天账号已不再关联到该审批人。",
    },
    ActionStatus.UNKNOWN_CARD: {
        "en-US": "This card is no longer valid.",
        "zh-CN": "该卡片已失效。",
    },
    ActionStatus.REASON_REQUIRED: {
        "en-US": "Please enter a reason to reject.",
        "zh-CN": "驳回时请填写原因。",
    },
    ActionStatus.TEST: {
        "en-US": "Test card: nothing was submitted.",
        "zh-CN": "测试卡片：未提交任何审批。",
    },
    ActionStatus.VOTED: {
        "en-US": "Thanks — your vote was recorded; the request waits for the others.",
        "zh-CN": "已记录你的审批意见，等待其他审批人。",
    },
    ActionStatus.ALREADY_VOTED: {
        "en-US": "You {outcome} at {at}; your vote stands.",
        "zh-CN": "你已于 {at} {outcome}，不能重复审批。",
    },
    ActionStatus.NOT_YET: {
        "en-US": "Not your stage yet: you will get a card when it opens.",
        "zh-CN": "尚未轮到你的审批阶段，开始时会发卡片给你。",
    },
    ActionStatus.STAGE_PASSED: {
        "en-US": "Your stage was decided without your vote.",
        "zh-CN": "你所在的审批阶段已在你审批前完成。",
    },
    ActionStatus.HANDED_OVER: {
        "en-US": "You handed this request over to {name}.",
        "zh-CN": "你已将此申请转交给 {name}。",
    },
    ActionStatus.HANDED: {
        "en-US": "Handed over to {name}: they get a card to decide.",
        "zh-CN": "已转交给 {name}，对方将收到审批卡片。",
    },
    ActionStatus.TAKER_UNBOUND: {
        "en-US": "The person you picked is not bound to a cloud account; ask them to bind first.",
        "zh-CN": "你选择的人尚未绑定云账号，请对方先完成绑定。",
    },
    ActionStatus.TAKER_SUBMITTER: {
        "en-US": "The person you picked submitted this request and cannot approve it.",
        "zh-CN": "你选择的人是该申请的提交人，不能审批。",
    },
    ActionStatus.TAKER_APPROVER: {
        "en-US": "The person you picked is, or was, an approver of this request.",
        "zh-CN": "你选择的人已是（或曾是）该申请的审批人。",
    },
    ActionStatus.SELF_APPROVAL: {
        "en-US": "You submitted this request: you cannot approve it.",
        "zh-CN": "这是你提交的申请，不能由你本人审批。",
    },
}
_HANDING = (ActionStatus.HANDED_OVER, ActionStatus.HANDED)  # toasts naming the colleague
_OUTCOME_WORDS = {
    "en-US": {"approved": "approved", "rejected": "rejected"},
    "zh-CN": {"approved": "同意", "rejected": "拒绝"},
}
_CLOSED_WORDS = {
    "zh-CN": {"withdrawn": "撤回", "expired": "过期"},
}


def toast_text(result: ActionResult) -> str:
    """What the clicker reads after tapping a button."""
    locale = result.request.ticket.locale if result.request else _clicked_locale(result.ref)
    template = _TOASTS[result.status][locale]
    request = result.request
    if result.status is ActionStatus.ALREADY_DECIDED and request and request.decision:
        at = format_time(request.decision.decided_at, _clicker_zone(result, locale))
        return template.format(by=request.decision.display_name, at=at)
    if result.status is ActionStatus.CLOSED and request:
        status = str(request.status)
        return template.format(status=_CLOSED_WORDS.get(locale, {}).get(status, status))
    if result.status is ActionStatus.ALREADY_VOTED:
        return _earlier_vote(template, result, locale)
    if result.status in _HANDING and request and result.delivery:
        taker = handed_to(request, result.delivery.account_id)
        return template.format(name=taker.display_name if taker else "?")
    return template


def _earlier_vote(template: str, result: ActionResult, locale: str) -> str:
    # "You approved at 10:02": the clicker's latest vote on the request.
    request, delivery = result.request, result.delivery
    account = delivery.account_id if delivery else None
    votes = [v for v in (request.votes if request else ()) if v.account_id == account]
    if not votes:
        return template.format(outcome=_OUTCOME_WORDS[locale]["approved"], at="?")
    vote = votes[-1]
    return template.format(
        outcome=_OUTCOME_WORDS[locale][vote.outcome.value],
        at=format_time(vote.at, _clicker_zone(result, locale)),
    )


_INFO = (
    ActionStatus.ALREADY_DECIDED,
    ActionStatus.CLOSED,
    ActionStatus.ALREADY_VOTED,
    ActionStatus.NOT_YET,
    ActionStatus.STAGE_PASSED,
    ActionStatus.HANDED_OVER,
)


def toast_kind(result: ActionResult) -> str:
    """success / info / error, as both platforms name toast types."""
    if result.ok:
        return "success"
    if result.status in _INFO:
        return "info"
    return "error"


def _clicker_zone(result: ActionResult, locale: str) -> ZoneInfo:
    # The times a toast shows are in the clicker's zone, as on their card.
    return zone_for(result.delivery.time_zone if result.delivery else None, locale)
