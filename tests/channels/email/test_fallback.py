"""A chat send the platform refuses for good falls back to email, or to ``unreachable`` where
email may not serve the account — each hop in the trace, the mail in the real SMTP catcher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.store.bindings import BindingStore
from sandbox.embedded import Embedded, start
from sandbox.mail.platform import MailPlatform
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, trace


@pytest.fixture
async def ding_and_mail(tmp_path: Path) -> AsyncIterator[Embedded]:
    embedded = await start(fast_settings(tmp_path, sandbox_platforms=["dingtalk", "mail"]))
    yield embedded
    await embedded.stop()


async def _bind_to_a_stranger(embedded: Embedded, account_id: str) -> None:
    # A userId the DingTalk org does not have: the platform refuses the card for good.
    await BindingStore(embedded.gateway.store).set(
        account_id,
        "dingtalk",
        f"left-the-company-{account_id}",
        by="admin",
        method="admin-api",
        at=embedded.gateway.clock.now(),
    )


async def _settled(embedded: Embedded, ticket_id: str, account_id: str) -> list[dict[str, Any]]:
    assert embedded.backend is not None

    async def done() -> list[dict[str, Any]] | None:
        mine = [
            d
            for d in (await trace(embedded.backend, ticket_id))["deliveries"]
            if d["account_id"] == account_id
        ]
        return mine if any(d["state"] in ("sent", "unreachable") for d in mine) else None

    return await eventually(done)  # type: ignore[no-any-return]


async def test_a_refused_chat_card_lands_on_email(ding_and_mail: Embedded) -> None:
    embedded = ding_and_mail
    mailbox = await embedded.seat("email", "acc-1", "One")
    await _bind_to_a_stranger(embedded, "acc-1")
    assert embedded.backend is not None
    ticket = sample_ticket("T-FB-MAIL", [approver("acc-1", "One", "main")])
    await embedded.backend.submit(ticket)
    hops = await _settled(embedded, "T-FB-MAIL", "acc-1")
    assert [(d["channel"], d["state"]) for d in hops] == [("dingtalk", "failed"), ("email", "sent")]
    assert any("falling back to email" in h["detail"] for h in hops[0]["history"])
    platform = embedded.platform_of("email")
    assert isinstance(platform, MailPlatform)
    mail = await platform.catcher.wait_for(mailbox.address)
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None and ticket["console_url"] in text.get_content()


async def test_a_ram_user_refused_on_chat_is_unreachable_not_emailed(
    ding_and_mail: Embedded,
) -> None:
    embedded = ding_and_mail
    mailbox = await embedded.seat("email", "ram-1", "Ram")
    await _bind_to_a_stranger(embedded, "ram-1")
    assert embedded.backend is not None
    await embedded.backend.submit(sample_ticket("T-FB-RAM", [approver("ram-1", "Ram", "ram")]))
    hops = await _settled(embedded, "T-FB-RAM", "ram-1")
    assert [(d["channel"], d["state"]) for d in hops] == [
        ("dingtalk", "failed"),
        ("none", "unreachable"),
    ]
    assert "email does not serve RAM users" in (hops[1]["reason"] or "")
    platform = embedded.platform_of("email")
    assert isinstance(platform, MailPlatform)
    assert platform.catcher.messages(mailbox.address) == []
