"""Deterministic sample views: realistic database-change tickets in every state.

Used by the golden tests, ``cards render`` and the preview page. Times are fixed
so a rendered sample never changes unless the renderer does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from cards.view import ApprovalView, CardState, Locale, ViewDecision, ViewField

_SHANGHAI = timezone(timedelta(hours=8))
# Two colleagues a pending Lark card offers to hand the request over to (their open_ids).
_COLLEAGUES = ("ou_5a1c0f3e9b7d4e21a8c6f0b2d4e6a8c0", "ou_7e2b4d6f8a0c1e3b5d7f9a1c3e5b7d9f")

_SQL = (
    "ALTER TABLE orders ADD INDEX idx_orders_customer_created (customer_id, created_at);\n"
    "ANALYZE TABLE orders;"
)


def _en(state: CardState) -> ApprovalView:
    return ApprovalView(
        ticket_id="DMS-20261123-0042",
        title="Add index on orders(customer_id, created_at) in prod-mysql-01",
        summary=(
            "Order history queries scan the full `orders` table (48M rows, p99 2.3 s).\n"
            "The index makes them range scans; the DDL runs online with LOCK=NONE."
        ),
        fields=(
            ViewField(name="Database", value="prod-mysql-01 / shop"),
            ViewField(name="Change type", value="DDL (online)"),
            ViewField(name="Estimated rows affected", value="48,213,907"),
            ViewField(name="Execution window", value="2026-11-24 02:00-04:00 UTC"),
            ViewField(name="SQL", value=_SQL),
        ),
        submitter="Dana Li (dana.li@example.com)",
        approver="Sam Carter",
        console_url="https://dms.example.com/tickets/DMS-20261123-0042",
        expires_at=datetime(2026, 11, 23, 18, 0, tzinfo=UTC),
        locale=Locale.EN_US,
        state=state,
        decision=_decision(
            state,
            "Sam Carter",
            "Reviewed the plan; run it in the window.",
            "Run it after the Black Friday freeze.",
        ),
        action_ref="dlv_7f3a9c2e41b8",
        note=_note(state, "The ticket service answered 503 Service Unavailable."),
        hand_over_to=_COLLEAGUES,
    )


def _zh(state: CardState) -> ApprovalView:
    return ApprovalView(
        ticket_id="DMS-20261123-0042",
        title="在 prod-mysql-01 上为 orders(customer_id, created_at) 增加索引",
        summary=(
            "订单历史查询对 `orders` 表（4800 万行）做全表扫描，p99 为 2.3 秒。\n"
            "增加索引后改为范围扫描；DDL 以 LOCK=NONE 在线执行。"
        ),
        fields=(
            ViewField(name="数据库", value="prod-mysql-01 / shop"),
            ViewField(name="变更类型", value="DDL（在线）"),
            ViewField(name="预计影响行数", value="48,213,907"),
            ViewField(name="执行窗口", value="2026-11-24 10:00-12:00 (UTC+8)"),
            ViewField(name="SQL", value=_SQL),
        ),
        submitter="李丹 (dana.li@example.com)",
        approver="王磊",
        console_url="https://dms.example.com/tickets/DMS-20261123-0042",
        expires_at=datetime(2026, 11, 24, 2, 0, tzinfo=_SHANGHAI),
        locale=Locale.ZH_CN,
        state=state,
        decision=_decision(
            state, "王磊", "已确认执行计划，请在窗口内执行。", "请在双十一封网结束后执行。"
        ),
        action_ref="dlv_7f3a9c2e41b8",
        note=_note(state, "工单服务返回 503 Service Unavailable。"),
        hand_over_to=_COLLEAGUES,
    )


def _decision(state: CardState, by: str, comment: str, reason: str) -> ViewDecision | None:
    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    if state is CardState.APPROVED:
        return ViewDecision(by=by, at=at, comment=comment)
    if state is CardState.REJECTED:
        return ViewDecision(by=by, at=at, comment=reason)
    return None


def _note(state: CardState, text: str) -> str | None:
    return text if state is CardState.FAILED else None


def sample_view(state: CardState, locale: Locale) -> ApprovalView:
    """A realistic, deterministic DMS change ticket in ``state`` and ``locale``."""
    return _zh(state) if locale is Locale.ZH_CN else _en(state)
