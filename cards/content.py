"""What a card says, independent of platform: the view cut to a :class:`Budget`.

Every string here is plain, cleaned and truncated but not escaped; each renderer
escapes it for its own markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from cards.actions import APPROVE, REJECT, TEST, ClickAction, ref_is_usable
from cards.budget import Budget
from cards.i18n import UiText, card_zone, format_time, ui
from cards.text import clean, one_line, safe_url, truncate
from cards.view import ApprovalView, CardState, FieldKind, Locale, ViewProgress, ViewVote

TICKET_ID_MAX = 64
NAMES_SHOWN = 10  # names listed in a progress line before "N more"
INTERACTIVE = frozenset({CardState.PENDING, CardState.TEST})


@dataclass(frozen=True)
class Actions:
    """The two buttons of an interactive card and the ref they echo."""

    approve: ClickAction
    reject: ClickAction
    ref: str


@dataclass(frozen=True)
class Decision:
    """Who decided, when, and their comment under the right label."""

    by: str
    at: str
    comment: str | None
    comment_label: str


@dataclass(frozen=True)
class Content:
    """A card's text after cleaning and truncation (see module docstring)."""

    state: CardState
    locale: Locale
    text: UiText
    title: str
    status: str
    summary: str
    fields: tuple[tuple[str, str], ...]
    hidden_fields: int
    ticket_id: str
    submitter: str
    approver: str
    expires: str
    decision: Decision | None
    notices: tuple[str, ...]
    actions: Actions | None
    console_url: str | None
    kinds: tuple[FieldKind, ...] = ()  # one per field
    progress: tuple[str, ...] = ()  # lines saying where a multi-approver request stands


@dataclass
class _Cutter:
    budget: Budget
    cut: bool = field(default=False)

    def line(self, raw: str, limit: int) -> str:
        return self._keep(truncate(one_line(raw), limit))

    def block(self, raw: str, limit: int) -> str:
        return self._keep(truncate(clean(raw).strip(), limit))

    def _keep(self, result: tuple[str, bool]) -> str:
        self.cut = self.cut or result[1]
        return result[0]


def build_content(view: ApprovalView, budget: Budget) -> Content:
    """Cut ``view`` down to ``budget``; notices explain anything left out."""
    text, cut = ui(view.locale), _Cutter(budget)
    where = card_zone(view.time_zone, view.locale)
    shown = view.fields[: budget.fields]
    fields = tuple(
        (cut.line(f.name, budget.field_name), cut.block(f.value, budget.field_value)) for f in shown
    )
    content = Content(
        state=view.state,
        locale=view.locale,
        text=text,
        title=_title(view, text, cut),
        status=_status(view, text),
        summary=cut.block(view.summary, budget.summary),
        fields=fields,
        hidden_fields=len(view.fields) - len(shown),
        ticket_id=truncate(one_line(view.ticket_id), TICKET_ID_MAX)[0],
        submitter=cut.line(view.submitter, budget.name),
        approver=cut.line(view.approver, budget.name),
        expires=format_time(view.expires_at, where),
        decision=_decision(view, text, cut, where),
        notices=(),
        actions=_actions(view),
        console_url=safe_url(view.console_url),
        kinds=tuple(f.kind for f in shown),
        progress=_progress(view.progress, text, cut, where),
    )
    return _with_notices(content, view, cut)


def _holder_is_done(view: ApprovalView) -> bool:
    progress = view.progress
    return progress is not None and (progress.own_vote is not None or bool(progress.passed_to))


def _status(view: ApprovalView, text: UiText) -> str:
    if view.state is not CardState.PENDING or view.progress is None:
        return text.states[view.state]
    if view.progress.passed_to:
        return text.passed_status
    return text.voted_status if view.progress.own_vote else text.states[view.state]


def _progress(
    progress: ViewProgress | None, text: UiText, cut: _Cutter, where: ZoneInfo
) -> tuple[str, ...]:
    if progress is None:
        return ()
    lines = []
    if progress.stages > 1:
        name = cut.line(progress.stage_name, cut.budget.title)
        lines.append(text.stage.format(number=progress.stage, count=progress.stages, name=name))
    tally = text.tally.format(count=len(progress.approved), needed=progress.needed)
    if progress.approved:
        tally += text.tally_names.format(names=_names(progress.approved, text, cut))
    if progress.waiting:
        tally += text.tally_waiting.format(names=_names(progress.waiting, text, cut))
    lines.append(tally)
    if progress.rejected is not None:
        lines.append(_rejection(progress.rejected, text, cut))
    if progress.own_vote is not None:
        own = text.own_approved if progress.own_vote.approved else text.own_rejected
        lines.append(own.format(at=format_time(progress.own_vote.at, where)))
    if progress.passed_to:
        lines.append(text.passed_to.format(name=cut.line(progress.passed_to, cut.budget.title)))
    return tuple(lines)


def _names(names: tuple[str, ...], text: UiText, cut: _Cutter) -> str:
    shown = [cut.line(name, cut.budget.name) for name in names[:NAMES_SHOWN]]
    if len(names) > NAMES_SHOWN:
        shown.append(text.more_names.format(count=len(names) - NAMES_SHOWN))
    return text.name_separator.join(shown)


def _rejection(vote: ViewVote, text: UiText, cut: _Cutter) -> str:
    line = text.rejected_by.format(by=cut.line(vote.by, cut.budget.name))
    reason = cut.line(vote.comment or "", cut.budget.comment)
    return f"{line} · {text.reason}: {reason}" if reason else line


def _title(view: ApprovalView, text: UiText, cut: _Cutter) -> str:
    title = cut.line(view.title, cut.budget.title)
    # an empty header is rejected by Lark and unreadable anywhere else
    return title or f"{text.ticket} {one_line(view.ticket_id)[:TICKET_ID_MAX]}".strip()


def _decision(view: ApprovalView, text: UiText, cut: _Cutter, where: ZoneInfo) -> Decision | None:
    if view.decision is None or view.state in INTERACTIVE:
        return None
    comment = cut.block(view.decision.comment or "", cut.budget.comment) or None
    label = text.reason if view.state is CardState.REJECTED else text.comment
    return Decision(
        by=cut.line(view.decision.by, cut.budget.name),
        at=format_time(view.decision.at, where),
        comment=comment,
        comment_label=label,
    )


def takes_clicks(view: ApprovalView) -> bool:
    """Whether the card of ``view`` carries buttons (and, on Lark, the hand-over picker)."""
    return _actions(view) is not None


def _actions(view: ApprovalView) -> Actions | None:
    if view.state not in INTERACTIVE or not ref_is_usable(view.action_ref):
        return None
    if _holder_is_done(view) or view.handed_to:  # voted, passed, or handed over: no click
        return None
    if view.state is CardState.TEST:
        return Actions(approve=TEST, reject=TEST, ref=view.action_ref)
    return Actions(approve=APPROVE, reject=REJECT, ref=view.action_ref)


def _with_notices(content: Content, view: ApprovalView, cut: _Cutter) -> Content:
    text, notices = content.text, []
    state_notice = {
        CardState.FAILED: text.failed,
        CardState.TEST: text.test,
        CardState.EXPIRED: text.expired.format(at=content.expires),
        CardState.WITHDRAWN: text.withdrawn,
    }.get(view.state)
    notices.append(state_notice or "")
    notices.append(cut.block(view.note or "", cut.budget.comment))
    if view.handed_to and view.state is CardState.PENDING:
        notices.append(text.handed_to.format(name=cut.line(view.handed_to, cut.budget.name)))
    elif view.state is CardState.PENDING and content.actions is None and not _holder_is_done(view):
        notices.append(text.no_actions)
    if content.hidden_fields:
        notices.append(text.more_fields.format(count=content.hidden_fields))
    if cut.cut:
        notices.append(text.shortened)
    return replace(content, notices=tuple(n for n in notices if n))


def meta_rows(content: Content) -> list[tuple[str, str]]:
    """Label/value rows with the ticket's facts, empty values left out."""
    t = content.text
    rows = [
        (t.ticket, content.ticket_id),
        (t.submitter, content.submitter),
        (t.approver, content.approver),
        (t.expires, content.expires),
    ]
    return [(label, value) for label, value in rows if value]


def field_rows(content: Content) -> list[tuple[str, str, FieldKind]]:
    """The fields with how each is drawn."""
    kinds = content.kinds or (FieldKind.TEXT,) * len(content.fields)
    return [(name, value, kind) for (name, value), kind in zip(content.fields, kinds, strict=True)]


def code_fence(code: str) -> str:
    """A backtick fence longer than any backtick run in ``code``, so the code cannot close it."""
    longest = max((len(run) for run in re.findall("`+", code)), default=0)
    return "`" * max(3, longest + 1)


def decision_rows(content: Content) -> list[tuple[str, str]]:
    """Label/value rows saying who decided, when, and what they said."""
    d, t = content.decision, content.text
    if d is None:
        return []
    rows = [(t.decided_by, d.by), (t.decided_at, d.at)]
    return [*rows, (d.comment_label, d.comment)] if d.comment else rows
