"""The ticket backend adapter: decisions (and votes) POSTed as Standard-Webhooks-signed JSON.

The ``webhook-id`` is the event's id (a decision's, or a vote's) and stays the same on every
retry, so a backend that de-duplicates on it (as Standard Webhooks receivers should) sees each
event once even when we crash after it answered and before we recorded the answer.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
from standardwebhooks import Webhook

from bot import tracing
from bot.core.ports import BackendEvent, BackendReceipt
from bot.errors import BackendError

_PERMANENT_HINT = "the backend refused the decision"


class WebhookBackend:
    """Delivers decision (and vote) events to the configured backend URL."""

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0) -> None:
        self._url = url
        self._webhook = Webhook(secret)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Release the HTTP connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    def signed(self, event: BackendEvent) -> tuple[bytes, dict[str, str]]:
        """The exact body and headers to send (signature computed over these very bytes)."""
        body = event.model_dump_json()
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": event.event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._webhook.sign(event.event_id, now, body),
        }
        return body.encode(), headers

    async def deliver(self, event: BackendEvent) -> BackendReceipt:
        """POST the event; 2xx and 409 are success, 429/5xx/network retry, other 4xx are final."""
        body, headers = self.signed(event)
        parent = tracing.traceparent()  # the forward's span: the backend may join the trace
        if parent is not None:
            headers["traceparent"] = parent
        try:
            async with self._client().post(self._url, data=body, headers=headers) as response:
                text = (await response.text())[:200]
                return _receipt(response.status, text, response.headers.get("retry-after"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BackendError(f"backend unreachable: {type(exc).__name__}") from exc


def _receipt(status: int, text: str, retry_after: str | None) -> BackendReceipt:
    if 200 <= status < 300:
        return BackendReceipt(status=status)
    if status == 409:
        return BackendReceipt(status=status, already_decided=True)
    if status == 429:
        raise BackendError(f"backend throttled (429) {text}", retry_after=_seconds(retry_after))
    if 400 <= status < 500:
        raise BackendError(f"{_PERMANENT_HINT}: {status} {text}".strip(), retryable=False)
    raise BackendError(f"backend failed: {status} {text}".strip())


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
