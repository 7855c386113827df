"""The email channel end to end: the embedded gateway sends to the real aiosmtpd catcher."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from bot.channels.email import EmailChannel, message_id
from bot.core.intake import ApprovalRequest
from bot.core.models import ClickAction, Delivery, DeliveryState, StoredRequest
from bot.core.ports import OutgoingCard
from bot.errors import ChannelError
from bot.settings.config import EmailSettings
from sandbox.backend import SandboxBackend
from sandbox.embedded import Embedded, start
from sandbox.mail.catcher import MailCatcher
from sandbox.mail.platform import NO_BUTTONS, MailPlatform
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import eventually, trace


async def _stack(tmp_path: Path, closing: bool) -> Embedded:
    settings = fast_settings(
        tmp_path / "data",
        sandbox_platforms=["mail"],
        email={"closing_emails": closing, "from_address": "approvals@gw.example"},
    )
    return await start(settings)


@pytest.fixture
async def mail_stack(tmp_path: Path) -> AsyncIterator[Embedded]:
    stack = await _stack(tmp_path, closing=False)
    try:
        yield stack
    finally:
        await stack.stop()


@pytest.fixture
async def closing_stack(tmp_path: Path) -> AsyncIterator[Embedded]:
    stack = await _stack(tmp_path, closing=True)
    try:
        yield stack
    finally:
        await stack.stop()


def _parts(stack: Embedded) -> tuple[SandboxBackend, MailPlatform]:
    platform = stack.platform_of("email")
    assert isinstance(platform, MailPlatform) and stack.backend is not None
    return stack.backend, platform


async def _delivery(backend: SandboxBackend, ticket_id: str, state: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        deliveries = (await trace(backend, ticket_id))["deliveries"]
        return next((d for d in deliveries if d["state"] == state), None)

    found: dict[str, Any] = await eventually(probe)
    return found


def _bodies(message: EmailMessage) -> tuple[str, str]:
    text, markup = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and markup is not None
    return str(text.get_content()), str(markup.get_content())


async def test_role_account_gets_an_email_with_the_console_link(mail_stack: Embedded) -> None:
    backend, platform = _parts(mail_stack)
    seat = await mail_stack.seat("email", "r-100", "Rita")
    ticket = sample_ticket("T-MAIL-1", [approver("r-100", "Rita", "role", "ap-southeast-1")])
    assert (await backend.submit(ticket))[0] == 202
    message = await platform.catcher.wait_for(seat.address)
    delivery = await _delivery(backend, "T-MAIL-1", "sent")

    assert message.get_content_type() == "multipart/alternative"
    text, markup = _bodies(message)
    console_url = ticket["console_url"]
    assert console_url in text and "ALTER TABLE orders" in text
    links = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', markup)]
    assert links == [console_url]  # one link, to the console, and nothing to click besides
    assert "<form" not in markup and "<button" not in markup

    assert parseaddr(message["From"])[1] == "approvals@gw.example"
    assert message["To"] == seat.address
    assert abs((parsedate_to_datetime(message["Date"]) - datetime.now(UTC)).total_seconds()) < 60
    assert message["Message-ID"] == message_id(delivery["delivery_id"], "approval", "gw.example")
    assert message["Auto-Submitted"] == "auto-generated"
    assert "ALTER TABLE orders" in message["Subject"]
    assert platform.card_state(seat, delivery["delivery_id"]) == "pending"


async def test_chinese_subject_survives_the_wire(mail_stack: Embedded) -> None:
    backend, platform = _parts(mail_stack)
    seat = await mail_stack.seat("email", "r-200", "Rui")
    ticket = sample_ticket("T-MAIL-ZH", [approver("r-200", "芮", "role")], locale="zh-CN")
    ticket["title"] = "订单表增加索引"
    await backend.submit(ticket)
    message = await platform.catcher.wait_for(seat.address)
    assert "订单表增加索引" in message["Subject"]
    raw_subject = next(v for k, v in message.raw_items() if k.lower() == "subject")
    assert raw_subject.isascii() and "=?utf-8?" in raw_subject.lower()  # RFC 2047 on the wire
    text, _ = _bodies(message)
    assert "订单表增加索引" in text


async def test_ram_account_with_only_email_is_unreachable(mail_stack: Embedded) -> None:
    backend, platform = _parts(mail_stack)
    seat = await mail_stack.seat("email", "u-300", "Uma")
    await backend.submit(sample_ticket("T-MAIL-RAM", [approver("u-300", "Uma", "ram")]))
    delivery = await _delivery(backend, "T-MAIL-RAM", "unreachable")
    assert "email does not serve RAM users" in (delivery["reason"] or "")
    assert platform.catcher.messages(seat.address) == []


async def test_no_closing_email_unless_enabled(mail_stack: Embedded) -> None:
    backend, platform = _parts(mail_stack)
    seat = await mail_stack.seat("email", "r-400", "Rob")
    await backend.submit(sample_ticket("T-MAIL-OFF", [approver("r-400", "Rob", "role")]))
    await platform.catcher.wait_for(seat.address)
    assert (await backend.withdraw("T-MAIL-OFF"))[0] == 200
    delivery = await _delivery(backend, "T-MAIL-OFF", "updated")
    assert "closing emails off" in delivery["history"][-1]["detail"]
    assert len(platform.catcher.messages(seat.address)) == 1


async def test_closing_email_when_enabled(closing_stack: Embedded) -> None:
    backend, platform = _parts(closing_stack)
    seat = await closing_stack.seat("email", "r-500", "Ria")
    await backend.submit(sample_ticket("T-MAIL-ON", [approver("r-500", "Ria", "role")]))
    first = await platform.catcher.wait_for(seat.address)
    await backend.withdraw("T-MAIL-ON")
    closing = await platform.catcher.wait_for(seat.address, count=2)
    assert closing["In-Reply-To"] == first["Message-ID"] != closing["Message-ID"]
    assert closing["X-Approval-State"] == "withdrawn"
    text, _ = _bodies(closing)
    assert "https://dms.example.com/tickets/T-MAIL-ON" in text
    delivery = await _delivery(backend, "T-MAIL-ON", "updated")
    assert platform.card_state(seat, delivery["delivery_id"]) == "withdrawn"
    outcome = await platform.click(seat, delivery["delivery_id"], ClickAction.APPROVE)
    assert outcome.toast == NO_BUTTONS and outcome.card_state == "withdrawn"


# --------------------------------------------------------------------------- SMTP errors


def _card(address: str) -> OutgoingCard:
    ticket = ApprovalRequest.model_validate(sample_ticket("T-ERR", [approver("r1", "R", "role")]))
    now = datetime.now(UTC)
    request = StoredRequest(id="req-1", ticket=ticket, status="pending", created_at=now)
    delivery = Delivery(
        id="dlv-1",
        request_id="req-1",
        account_id="r1",
        channel="email",
        address=address,
        state=DeliveryState.QUEUED,
        created_at=now,
        updated_at=now,
    )
    return OutgoingCard(delivery=delivery, request=request)


@pytest.fixture
def catcher() -> Any:
    running = MailCatcher()
    running.start()
    yield running
    running.stop()


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("550 5.1.1 no such user", False), ("450 4.2.1 mailbox busy", True)],
)
async def test_refused_recipient(catcher: MailCatcher, reply: str, retryable: bool) -> None:
    catcher.refuse("gone@sandbox.example", reply)
    channel = EmailChannel(EmailSettings(host=catcher.host, port=catcher.port, security="none"))
    with pytest.raises(ChannelError) as caught:
        await channel.send(_card("gone@sandbox.example"))
    assert caught.value.retryable is retryable


async def test_unreachable_server_is_retryable(catcher: MailCatcher) -> None:
    port = catcher.port
    catcher.stop()
    settings = EmailSettings(host="127.0.0.1", port=port, security="none", timeout_seconds=2)
    with pytest.raises(ChannelError) as caught:
        await EmailChannel(settings).send(_card("a@sandbox.example"))
    assert caught.value.retryable


async def test_retried_send_carries_the_same_message_id(catcher: MailCatcher) -> None:
    channel = EmailChannel(EmailSettings(host=catcher.host, port=catcher.port, security="none"))
    first = await channel.send(_card("a@sandbox.example"))
    second = await channel.send(_card("a@sandbox.example"))
    assert first.external_ref == second.external_ref
    ids = {m["Message-ID"] for m in catcher.messages("a@sandbox.example")}
    assert ids == {first.external_ref}
