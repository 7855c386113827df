"""Every UI string of every card, for each locale, in one table.

Strings with ``{placeholders}`` are filled with :meth:`str.format`; the values
put into them are untrusted and get escaped by the renderer afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cards.view import CardState, Locale


@dataclass(frozen=True)
class UiText:
    """The strings of one locale."""

    states: Mapping[CardState, str]  # the status line under the title
    subject_tags: Mapping[CardState, str]  # the email subject prefix
    approve: str
    reject: str
    open_console: str
    comment_placeholder: str
    hand_over_placeholder: str  # the Lark card's person picker
    ticket: str
    submitter: str
    approver: str
    expires: str
    decided_by: str
    decided_at: str
    comment: str
    reason: str
    more_fields: str  # {count}
    shortened: str
    no_actions: str
    failed: str
    test: str
    test_tag: str
    expired: str  # {at}
    withdrawn: str
    email_intro: str  # {approver}
    email_pending: str
    email_closed: str
    email_footer: str
    # multi-approver progress
    stage: str  # {number} {count} {name}
    tally: str  # {count} {needed}
    tally_names: str  # {names}
    tally_waiting: str  # {names}
    rejected_by: str  # {by}
    own_approved: str  # {at}
    own_rejected: str  # {at}
    passed_to: str  # {name}
    handed_to: str  # {name}
    voted_status: str
    passed_status: str
    risk: Mapping[str, str]  # low / medium / high
    name_separator: str
    more_names: str  # {count}


_EN = UiText(
    states={
        CardState.PENDING: "Waiting for your approval",
        CardState.APPROVED: "Approved",
        CardState.REJECTED: "Rejected",
        CardState.EXPIRED: "Expired",
        CardState.WITHDRAWN: "Withdrawn",
        CardState.FAILED: "Decision not submitted",
        CardState.TEST: "Test card",
    },
    subject_tags={
        CardState.PENDING: "[Approval needed]",
        CardState.APPROVED: "[Approved]",
        CardState.REJECTED: "[Rejected]",
        CardState.EXPIRED: "[Expired]",
        CardState.WITHDRAWN: "[Withdrawn]",
        CardState.FAILED: "[Action needed]",
        CardState.TEST: "[Test]",
    },
    approve="Approve",
    reject="Reject",
    open_console="Open in console",
    comment_placeholder="Comment (optional to approve, required to reject)",
    hand_over_placeholder="Hand over to…",
    ticket="Ticket",
    submitter="Submitter",
    approver="Approver",
    expires="Expires",
    decided_by="Decided by",
    decided_at="At",
    comment="Comment",
    reason="Reason",
    more_fields="{count} more fields: see the console",
    shortened="Some text was shortened: open the console for the full ticket.",
    no_actions="Open the console to approve or reject this request.",
    failed="Your decision could not be submitted: open the console and decide there.",
    test="This is a test card. The buttons only check that clicks reach the gateway; "
    "nothing is approved or rejected.",
    test_tag="TEST",
    expired="This request expired at {at} without a decision.",
    withdrawn="The submitter withdrew this request; no decision is needed.",
    email_intro="Hello {approver},",
    email_pending="A change request is waiting for your approval. "
    "Review it and decide in the console:",
    email_closed="This request is closed; no action is needed from you.",
    email_footer="You receive this email because you are an approver of this request.",
    stage="Stage {number} of {count}: {name}",
    tally="{count} of {needed} approved",
    tally_names=": {names}",
    tally_waiting=" · waiting for {names}",
    rejected_by="Rejected by {by}",
    own_approved="You approved at {at}.",
    own_rejected="You rejected at {at}.",
    passed_to="Passed to {name}.",
    handed_to="You handed this request over to {name}, who decides in your place.",
    voted_status="Your vote is in",
    passed_status="Passed to the next stage",
    risk={"low": "LOW RISK", "medium": "MEDIUM RISK", "high": "HIGH RISK"},
    name_separator=", ",
    more_names="{count} more",
)

_ZH = UiText(
    states={
        CardState.PENDING: "等待你审批",
        CardState.APPROVED: "已同意",
        CardState.REJECTED: "已拒绝",
        CardState.EXPIRED: "已过期",
        CardState.WITHDRAWN: "已撤回",
        CardState.FAILED: "审批结果未提交",
        CardState.TEST: "测试卡片",
    },
    subject_tags={
        CardState.PENDING: "【待审批】",
        CardState.APPROVED: "【已同意】",
        CardState.REJECTED: "【已拒绝】",
        CardState.EXPIRED: "【已过期】",
        CardState.WITHDRAWN: "【已撤回】",
        CardState.FAILED: "【需处理】",
        CardState.TEST: "【测试】",
    },
    approve="同意",
    reject="拒绝",
    open_console="在控制台打开",
    comment_placeholder="审批意见（同意时可选，拒绝时必填）",
    hand_over_placeholder="转交给…",
    ticket="工单",
    submitter="提交人",
    approver="审批人",
    expires="截止时间",
    decided_by="操作人",
    decided_at="时间",
    comment="意见",
    reason="拒绝原因",
    more_fields="还有 {count} 个字段：请在控制台查看",
    shortened="部分内容已截断：请在控制台查看完整工单。",
    no_actions="请在控制台中同意或拒绝此申请。",
    failed="你的审批结果未能提交：请在控制台中重新审批。",
    test="这是一张测试卡片。按钮只用于检查点击能否到达网关，不会同意或拒绝任何申请。",
    test_tag="测试",
    expired="此申请已于 {at} 过期，未作出审批。",
    withdrawn="提交人已撤回此申请，无需审批。",
    email_intro="{approver}，你好：",
    email_pending="有一个变更申请等待你审批。请在控制台中查看并审批：",
    email_closed="此申请已结束，你无需再操作。",
    email_footer="你收到此邮件，是因为你是此申请的审批人。",
    stage="第 {number}/{count} 步：{name}",
    tally="已同意 {count}/{needed}",
    tally_names="：{names}",
    tally_waiting=" · 等待 {names}",
    rejected_by="{by} 已拒绝",
    own_approved="你已于 {at} 同意。",
    own_rejected="你已于 {at} 拒绝。",
    passed_to="已转交：{name}。",
    handed_to="你已将此申请转交给 {name}，由其代你审批。",
    voted_status="你已审批",
    passed_status="已转交下一步",
    risk={"low": "低风险", "medium": "中风险", "high": "高风险"},
    name_separator="、",
    more_names="另 {count} 人",
)

_TABLE: Mapping[Locale, UiText] = {Locale.EN_US: _EN, Locale.ZH_CN: _ZH}


def ui(locale: Locale) -> UiText:
    """The strings for ``locale``."""
    return _TABLE[locale]


# The zone a card's times are shown in when its view names none: its locale's. The same
# defaults as quiet hours (bot.core.timing.quiet.DEFAULT_ZONES; a test keeps the two equal).
LOCALE_ZONES: Mapping[Locale, str] = {Locale.EN_US: "UTC", Locale.ZH_CN: "Asia/Shanghai"}


def card_zone(time_zone: str | None, locale: Locale) -> ZoneInfo:
    """The zone a card's times are shown in: the approver's own, else its locale's."""
    return ZoneInfo(time_zone or LOCALE_ZONES[locale])


def format_time(at: datetime, where: ZoneInfo | None = None) -> str:
    """``2026-11-23 18:00 UTC``, ``2026-11-24 02:00 CST (UTC+08:00)``: ``at`` in ``where`` (else
    the zone it was given in), with the zone's abbreviation and, off UTC, its offset."""
    local = at.astimezone(where) if where is not None else at
    # not strftime: it does not zero-pad years before 1000 on every platform
    stamp = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"
    )
    label = _zone_label(local)
    return f"{stamp} {label}" if label else stamp


def _zone_label(local: datetime) -> str:
    name, offset = local.tzname(), local.utcoffset()
    if name is None or offset is None:
        return name or ""
    if name == "UTC" or name.startswith(("UTC+", "UTC-")):
        return name
    # An abbreviation alone can be ambiguous (CST is China's and the US's), and some zones
    # have none but a number ("+04"): the offset says which.
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    numeric = f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return f"{name} ({numeric})" if name.isalpha() else numeric
