"""The email channel: a text + HTML email with a link to the console, over SMTP (aiosmtplib).

Email carries no buttons, so an email approver decides in the console. The Message-ID is derived
from the delivery id: a send retried after a lost SMTP answer carries the same Message-ID, so the
recipient's mail system (or a person) can recognise the duplicate.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Literal

import aiosmtplib

from bot.channels.base import ChannelDefaults
from bot.channels.present import card_view
from bot.core.intake import Approver
from bot.core.models import RequestStatus
from bot.core.ports import (
    ChannelCapabilities,
    ChannelHealth,
    InboundSink,
    OutgoingCard,
    SendReceipt,
)
from bot.errors import ChannelError, ConfigError
from bot.logs import kv
from bot.settings.config import EmailSettings
from cards.email import render_email

log = logging.getLogger("bot.channels.email")

PENDING_SUFFIX = "approval"
CLOSING_SUFFIX = "closed"


def message_id(delivery_id: str, suffix: str, from_address: str) -> str:
    """``<delivery.suffix@domain>``: the same delivery and kind of email give the same id."""
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<{delivery_id}.{suffix}@{domain}>"


def delivery_of(message_id_header: str) -> str | None:
    """The delivery id a Message-ID made by :func:`message_id` names (None if foreign)."""
    local = message_id_header.strip().strip("<>").partition("@")[0]
    delivery, dot, suffix = local.rpartition(".")
    return delivery if dot and suffix in (PENDING_SUFFIX, CLOSING_SUFFIX) else None


def build_message(card: OutgoingCard, settings: EmailSettings, *, closing: bool) -> EmailMessage:
    """The email for ``card``: headers, then a text part and an HTML part of the same content."""
    address = card.delivery.address
    if not address:
        raise ChannelError("no email address bound", retryable=False)
    rendered = render_email(card_view(card.request, card.delivery))
    msg = EmailMessage()
    # The default policy encodes a non-ASCII subject as RFC 2047 words when serialised.
    msg["Subject"] = rendered.subject
    msg["From"] = formataddr((settings.from_name, settings.from_address))
    msg["To"] = address
    msg["Date"] = format_datetime(datetime.now(UTC))
    own_id = message_id(
        card.delivery.id, CLOSING_SUFFIX if closing else PENDING_SUFFIX, settings.from_address
    )
    msg["Message-ID"] = own_id
    if closing:
        # Thread the closing note under the approval email it closes.
        first = message_id(card.delivery.id, PENDING_SUFFIX, settings.from_address)
        msg["In-Reply-To"] = first
        msg["References"] = first
    # RFC 3834: vacation responders and ticket systems must not answer this mail.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Approval-State"] = str(card.request.status)
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return msg


def smtp_error(exc: Exception) -> ChannelError:
    """Translate an SMTP failure: 5xx for a recipient or the content is permanent, else retry."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        permanent = bool(codes) and all(code >= 500 for code in codes)
        return ChannelError(
            f"recipient refused ({', '.join(map(str, codes))})", retryable=not permanent
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        what = (
            "recipient refused" if isinstance(exc, aiosmtplib.SMTPRecipientRefused) else "refused"
        )
        return ChannelError(f"{what}: {exc.code} {exc.message}", retryable=exc.code < 500)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # 4xx is transient; other 5xx (auth, sender) are deployment faults an operator fixes,
        # so the mail waits in the outbox instead of being dropped.
        return ChannelError(f"smtp answered {exc.code} {exc.message}", retryable=True)
    return ChannelError(f"smtp unavailable: {type(exc).__name__}: {exc}", retryable=True)


class EmailChannel(ChannelDefaults):
    """Channel port over an SMTP relay: sends approval emails, and closing emails if enabled."""

    name = "email"
    kind: Literal["chat", "email"] = "email"
    capabilities = ChannelCapabilities(credential_check=True, notices=True)
    settings: EmailSettings

    def __init__(self, settings: EmailSettings) -> None:
        if not settings.host:
            raise ConfigError("APPROVAL_GATEWAY_EMAIL__HOST is not set")
        self.settings = settings

    async def start(self, sink: InboundSink) -> None:
        """Nothing flows back over email: there is no stream to open."""

    async def stop(self) -> None:
        """Each send opens and closes its own SMTP connection: nothing to release."""

    async def check(self) -> None:
        """Open an SMTP session (and log in when a username is set), then close it."""
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            timeout=s.timeout_seconds,
        )
        try:
            await smtp.connect()
            if s.username:
                password = s.password.get_secret_value() if s.password else ""
                await smtp.login(s.username, password)
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise smtp_error(exc) from exc

    def health(self) -> ChannelHealth:
        """Always connected: email has no stream; failures show on each delivery instead."""
        return ChannelHealth(connected=True, detail=f"smtp {self.settings.host}")

    def default_address(self, approver: Approver) -> str | None:
        """Email needs a bound address."""
        return None

    async def send(self, card: OutgoingCard) -> SendReceipt:
        """Send the approval email with the console link."""
        return await self._send(build_message(card, self.settings, closing=False), card)

    async def update(self, card: OutgoingCard) -> SendReceipt:
        """Send the short closing email, only when the deployment enables closing emails."""
        if not self.settings.closing_emails:
            return SendReceipt(
                external_ref=card.delivery.external_ref, detail="closing emails off", sent=False
            )
        if card.request.status is RequestStatus.PENDING:
            # Still open (e.g. a failed forward): the approval email in the inbox stays right.
            return SendReceipt(
                external_ref=card.delivery.external_ref, detail="still pending", sent=False
            )
        return await self._send(build_message(card, self.settings, closing=True), card)

    async def tell(self, address: str, text: str) -> None:
        """A short notice by mail (the first line is the subject)."""
        await self.notify(address, text.splitlines()[0][:120], text)

    async def notify(self, to: str, subject: str, text: str) -> None:
        """A short plain-text email that is no approval (e.g. an address confirmation code)."""
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = formataddr((self.settings.from_name, self.settings.from_address))
        msg["To"] = to
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        msg.set_content(text)
        await self._deliver(msg)

    async def _send(self, msg: EmailMessage, card: OutgoingCard) -> SendReceipt:
        await self._deliver(msg)
        ref = str(msg["Message-ID"])
        log.info("email sent", extra=kv(delivery_id=card.delivery.id, message_id=ref))
        return SendReceipt(external_ref=ref, detail=f"accepted by {self.settings.host}")

    async def _deliver(self, msg: EmailMessage) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                msg,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password.get_secret_value() if s.password else None,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                timeout=s.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise smtp_error(exc) from exc
