"""Escalation ``add_approvers`` through the real Lark SDK and the mail catcher: once the clock
passes the step, the added approvers get cards through the normal routing (Lark where bound,
email otherwise), every card already out is redrawn with them in its progress line, and the
stage's rule counts them (an all-of now needs them too). The step run again adds nobody."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.core.models import ClickAction
from bot.core.timing.steps import StepJob
from bot.http.schemas import ApprovalOut
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from sandbox.mail.platform import MailPlatform
from sandbox.tickets import approver, sample_ticket
from tests.channels.test_votes_on_platforms import backend_of, card_text, submit
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually
from tests.support.clock import MovableClock


async def _trace(embedded: Embedded) -> dict[str, Any]:
    # Read in process: the backend's signature would be outside the moved clock's window.
    found = await embedded.gateway.service.trace("T-ADD")
    return ApprovalOut.of(found).model_dump(mode="json")


def _step_payload(db: Path) -> StepJob:
    with sqlite3.connect(db) as conn:
        (payload,) = conn.execute(
            "SELECT payload FROM outbox WHERE kind = 'timing_step' AND ref LIKE '%/escalation:%'"
        ).fetchone()
    return StepJob.model_validate(json.loads(payload))


async def test_added_approvers_get_cards_and_the_all_of_waits_for_them(tmp_path: Path) -> None:
    clock = MovableClock()
    settings = fast_settings(tmp_path / "data", sandbox_platforms=["lark", "mail"])
    embedded = await start(settings, clock=clock)
    try:
        lark = embedded.platform_of("lark")
        mail = embedded.platform_of("email")
        assert isinstance(lark, LarkPlatform) and isinstance(mail, MailPlatform)
        await lark.app().wait_connected()
        ann = await embedded.seat("lark", "a1", "Ann")
        boss = await embedded.seat("lark", "boss", "Boss")
        ticket = sample_ticket("T-ADD", [approver("a1", "Ann")])
        ticket["policy"] = {"rule": "all"}
        cat = await embedded.seat("email", "cat", "Cat")  # a mailbox only: email it is
        added = [approver("boss", "Boss"), approver("cat", "Cat")]
        ticket["escalation"] = [{"after": "PT1H", "add_approvers": added}]
        cards = await submit(embedded, ticket)
        assert card_text(embedded, boss) == ""  # nothing before the step
        clock.advance(timedelta(hours=1, seconds=1))

        async def all_out() -> dict[str, str]:
            body = await _trace(embedded)
            out = {d["account_id"]: d["channel"] for d in body["deliveries"]}
            states = {d["state"] for d in body["deliveries"]}
            return out if len(out) == 3 and states <= {"sent", "updated"} else {}

        assert await eventually(all_out) == {"a1": "lark", "boss": "lark", "cat": "email"}
        await mail.catcher.wait_for(cat.address)

        async def redrawn() -> bool:
            return "0 of 3 approved · waiting for Ann, Boss, Cat" in card_text(embedded, ann)

        await eventually(redrawn)
        assert "0 of 3 approved" in card_text(embedded, boss)

        body = await _trace(embedded)
        await lark.click(ann, cards["a1"], ClickAction.APPROVE, "ok")
        boss_card = next(d["delivery_id"] for d in body["deliveries"] if d["account_id"] == "boss")
        await lark.click(boss, boss_card, ClickAction.APPROVE, "ok")
        body = await _trace(embedded)
        assert body["status"] == "pending" and backend_of(embedded).decisions == []
        assert [a["account_id"] for a in body["awaited"]] == ["cat"]  # all-of needs Cat too
        assert [(j["account_id"], j["how"], j["by"]) for j in body["joined"]] == [
            ("boss", "added", "escalation:0:*"),
            ("cat", "added", "escalation:0:*"),
        ]

        # The step run again (a crash after its commit, before the job was marked done).
        assert await embedded.gateway.service.add_approvers(_step_payload(settings.db_path)) == ()
        again = await _trace(embedded)
        assert len(again["deliveries"]) == 3 and len(again["joined"]) == 2
    finally:
        await embedded.stop()
