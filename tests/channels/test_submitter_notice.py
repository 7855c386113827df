"""``notify_submitter``: the submitter hears the outcome once, on their own channel, and the
request's trace shows it. Through the DingTalk sandbox (the real channel's robot message) and the
mail catcher (the real SMTP channel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.core.models import ClickAction
from sandbox.backend import SandboxBackend
from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.embedded import Embedded, start
from sandbox.mail.platform import MailPlatform
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.admin import audit, token
from tests.gateway.helpers import eventually, states, trace


def backend_of(embedded: Embedded) -> SandboxBackend:
    assert embedded.backend is not None
    return embedded.backend


def told(ticket_id: str, submitter: dict[str, Any]) -> dict[str, Any]:
    ticket = sample_ticket(ticket_id, [approver("a1", "Ann"), approver("a2", "Bo")])
    return {**ticket, "submitter": submitter, "policy": {"rule": "all"}, "notify_submitter": True}


async def test_a_submitter_on_dingtalk_enterprise_hears_who_rejected_and_why(
    tmp_path: Path,
) -> None:
    embedded = await start(fast_settings(tmp_path / "data", sandbox_platforms=["dingtalk"]))
    try:
        platform = embedded.platform_of("dingtalk")
        assert isinstance(platform, DingTalkPlatform)
        await platform.sandboxes["dingtalk"].wait_connected()
        ann = await embedded.seat("dingtalk", "a1", "Ann")
        await embedded.seat("dingtalk", "a2", "Bo")
        chen = await embedded.seat("dingtalk_enterprise", "1001", "Chen Jie")
        ticket = told("TELL-DT", {"account_id": "1001", "display_name": "Chen Jie"})
        status, receipt = await backend_of(embedded).submit(ticket)
        assert status == 202, receipt

        async def out() -> bool:
            return await states(backend_of(embedded), "TELL-DT") == ["sent", "sent"]

        await eventually(out)
        card = receipt["deliveries"][0]["delivery_id"]
        await platform.click(ann, card, ClickAction.REJECT, "no index during the sale")
        enterprise = platform.sandboxes["dingtalk_enterprise"]

        async def heard() -> list[str]:
            return [m.text for m in enterprise.messages(chen.address)]

        [text] = await eventually(heard)
        assert text.splitlines() == [
            f"Rejected: {ticket['title']} (TELL-DT)",
            "Decided by Ann",
            "Reason: no index during the sale",
            "Console: https://dms.example.com/tickets/TELL-DT",
        ]

        async def recorded() -> dict[str, Any] | None:
            notice = (await trace(backend_of(embedded), "TELL-DT"))["submitter_notice"]
            return notice if notice and notice["state"] == "done" else None

        notice = await eventually(recorded)
        assert (notice["channel"], notice["text"], notice["error"]) == (
            "dingtalk_enterprise",
            text,
            None,
        )
        assert platform.sandboxes["dingtalk"].messages(chen.address) == []  # told once
    finally:
        await embedded.stop()


async def test_a_main_account_is_emailed_and_a_ram_user_never_is(tmp_path: Path) -> None:
    embedded = await start(fast_settings(tmp_path / "data", sandbox_platforms=["mail"]))
    try:
        mail = embedded.platform_of("email")
        assert isinstance(mail, MailPlatform)
        for account, name in (("a1", "Ann"), ("a2", "Bo"), ("1001", "Chen"), ("1002", "Ru")):
            await embedded.seat("email", account, name)
        main = {"account_id": "1001", "display_name": "Chen", "account_type": "main"}
        ram = {"account_id": "1002", "display_name": "Ru", "account_type": "ram"}
        for ticket_id, submitter in (("TELL-MAIN", main), ("TELL-RAM", ram)):
            status, body = await backend_of(embedded).submit(told(ticket_id, submitter))
            assert status == 202, body
            decided = {
                "reason": "decided",
                "outcome": "approved",
                "decided_by": {"account_id": "a1", "display_name": "Ann"},
            }
            status, body = await backend_of(embedded).withdraw(ticket_id, decided)
            assert status == 200, body

        message = await mail.catcher.wait_for("1001@sandbox.example")
        assert message["Subject"].startswith("Approved: ")
        body = message.get_content()
        assert "Decided by Ann (in the console)" in body
        assert "Console: https://dms.example.com/tickets/TELL-MAIN" in body
        gateway = embedded.gateway
        refused = await audit(gateway, await token(gateway, "admin"), "submitter.unreachable")
        assert [(r["target"], r["who"]) for r in refused] == [("TELL-RAM", "1002")]
        assert "email does not serve RAM users" in refused[0]["detail"]
        assert mail.catcher.messages("1002@sandbox.example") == []
        assert (await trace(backend_of(embedded), "TELL-RAM"))["submitter_notice"] is None
    finally:
        await embedded.stop()
