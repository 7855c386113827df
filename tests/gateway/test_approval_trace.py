"""The trace of a multi-approver request, through ``GET /v1/approvals/{ticket_id}`` and
``approval-gateway approvals show``: its stages with their votes, who is still awaited, and the
reminder steps still to come (cancelled once the request closes)."""

from __future__ import annotations

import json
from typing import Any

from bot.core.models import ClickAction
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually, parts, run_cli, states, trace


def _two_stages(ticket_id: str) -> dict[str, Any]:
    ticket = sample_ticket(ticket_id, [])
    del ticket["approvers"]
    ticket["stages"] = [
        {
            "name": "DBA review",
            "rule": "all",
            "approvers": [approver("a1", "Ann"), approver("a2", "Bo")],
        },
        {"name": "Service owner", "approvers": [approver("a3", "Cy")]},
    ]
    return {**ticket, "reminders": {"after": "PT30M"}}


def _stages(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            s["name"],
            s["rule"],
            s["needed"],
            s["state"],
            [(v["account_id"], v["outcome"], v["comment"], v["channel"]) for v in s["votes"]],
            [a["account_id"] for a in s["awaited"]],
        )
        for s in body["stages"]
    ]


async def test_the_trace_lists_stages_votes_the_awaited_and_the_steps(stack: object) -> None:
    embedded, backend, _ = parts(stack)
    status, receipt = await backend.submit(_two_stages("TRACE-1"))
    assert status == 202, receipt

    async def out() -> bool:
        return await states(backend, "TRACE-1") == ["sent", "sent"]

    await eventually(out)
    ann = await embedded.seat("memory", "a1", "Ann")
    card = next(d["delivery_id"] for d in receipt["deliveries"] if d["account_id"] == "a1")
    await embedded.platform_of("memory").click(ann, card, ClickAction.APPROVE, "fine")

    body = await trace(backend, "TRACE-1")
    assert _stages(body) == [
        ("DBA review", "all", 2, "pending", [("a1", "approved", "fine", "memory")], ["a2"]),
        ("Service owner", "any", 1, "waiting", [], []),
    ]
    assert [a["account_id"] for a in body["awaited"]] == ["a2"]
    assert [(s["kind"], s["number"], s["account_id"], s["state"]) for s in body["steps"]] == [
        ("reminder", 1, "a1", "scheduled"),
        ("reminder", 1, "a2", "scheduled"),
    ]
    assert body["submitter_notice"] is None  # not asked for

    shown = await run_cli(
        "approvals", "show", "TRACE-1", data_dir=embedded.gateway.settings.data_dir
    )
    assert shown.code == 0, shown.output
    printed = json.loads(shown.out)
    assert _stages(printed) == _stages(body) and printed["steps"] == body["steps"]

    status, _ = await backend.withdraw("TRACE-1")
    assert status == 200
    closed = await trace(backend, "TRACE-1")
    assert closed["awaited"] == []
    assert {s["state"] for s in closed["steps"]} == {"cancelled"}
