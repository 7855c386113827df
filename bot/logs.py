"""Structured JSON logs with the ids that tie a line to a request, delivery or ticket.

Handlers bind ``request_id`` / ``ticket_id`` / ``delivery_id`` with :func:`bind`; every record
logged inside that context carries them. A redaction pass keeps secrets out of the output even
when a library logs them: logs are read by people who must not learn tokens.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# Bound ids are replaced, never mutated, so the shared empty default is safe.
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "log_context", default=MappingProxyType({})
)

# Values that must never reach a log line, whatever logged them.
_SECRET_PATTERNS = [
    re.compile(r"whsec_[A-Za-z0-9+/=]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(v1,)[A-Za-z0-9+/=]{16,}"),
    re.compile(
        r"(?i)((?:app_?secret|client_?secret|secret|password|token|access_?token|"
        r"tenant_access_token|accessToken|api_key|key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
    ),
    re.compile(r"agw_[A-Za-z0-9_-]{8,}"),
]


def redact(text: str) -> str:
    """Replace anything that looks like a secret with ``[redacted]``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
    return text


@contextmanager
def bind(**ids: str | None) -> Iterator[None]:
    """Attach ids (request_id, ticket_id, delivery_id, ...) to every log line in this context."""
    merged = {**_context.get(), **{k: v for k, v in ids.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, bound ids and ``extra`` fields."""

    _reserved = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_context.get(),
        }
        for key, value in record.__dict__.items():
            if key not in self._reserved and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


def setup(level: str = "INFO", stream: Any = None) -> None:
    """Route all logging through the JSON formatter (idempotent)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The SDKs are chatty at INFO (every ping); keep them to warnings.
    for noisy in ("Lark", "dingtalk_stream", "websockets", "aiohttp.access", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
