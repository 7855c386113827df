"""The sandbox mail catcher: an SMTP server (aiosmtpd) that keeps every message it receives.

aiosmtpd's Controller runs the server on its own thread with its own event loop, so the catcher
is safe to start from synchronous code and from inside the gateway's event loop alike. Messages
are kept parsed, per recipient, for the demo and the tests; nothing is relayed anywhere.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller


def _free_port(host: str) -> int:
    # The Controller checks it is up by connecting to its port, so it cannot be given port 0.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class _Handler:
    """aiosmtpd handler: parses each message and files it under every recipient."""

    def __init__(self, catcher: MailCatcher) -> None:
        self._catcher = catcher

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self._catcher.refusals.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        self._catcher.keep(list(envelope.rcpt_tos), message)
        return "250 Message accepted for delivery"


class MailCatcher:
    """A local SMTP server keeping received mail per recipient address (lower-cased)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.refusals: dict[str, str] = {}  # address -> SMTP reply, to test refused recipients
        self._mail: dict[str, list[EmailMessage]] = {}
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        """Start the server thread; returns once it accepts connections."""
        if self._controller is None:
            controller = Controller(_Handler(self), hostname=self.host, port=self.port)
            controller.start()
            self._controller = controller

    def stop(self) -> None:
        """Stop the server thread (idempotent)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, address: str, reply: str) -> None:
        """Answer RCPT TO for ``address`` with ``reply`` (e.g. ``"550 5.1.1 no such user"``)."""
        self.refusals[address.lower()] = reply

    def keep(self, recipients: list[str], message: EmailMessage) -> None:
        """File ``message`` under each recipient (called on the server thread)."""
        with self._lock:
            for address in recipients:
                self._mail.setdefault(address.lower(), []).append(message)

    def messages(self, address: str) -> list[EmailMessage]:
        """Every message received for ``address``, oldest first."""
        with self._lock:
            return list(self._mail.get(address.lower(), ()))

    def everything(self) -> list[tuple[str, EmailMessage]]:
        """Every (recipient, message) pair received, oldest first per recipient."""
        with self._lock:
            return [(address, m) for address, kept in self._mail.items() for m in kept]

    def count(self) -> int:
        """How many (recipient, message) pairs were received."""
        with self._lock:
            return sum(len(kept) for kept in self._mail.values())

    async def wait_for(self, address: str, count: int = 1, within: float = 10.0) -> EmailMessage:
        """The ``count``-th message to ``address``, once it arrives; AssertionError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        # Polled: the server runs on another thread and loop, so nothing here can await it.
        while len(kept := self.messages(address)) < count:
            if loop.time() > deadline:
                raise AssertionError(f"no mail #{count} for {address} within {within}s")
            await asyncio.sleep(0.02)
        return kept[count - 1]
