"""Structured JSON logs with the ids that tie a line to a request, delivery or ticket.

Handlers bind ``request_id`` / ``ticket_id`` / ``delivery_id`` with :func:`bind`; every record
logged inside that context carries them. Fields of one line go in with ``extra=kv(...)``: they
travel under a single record attribute, so no field name can collide with a ``LogRecord``
attribute (``logging`` raises ``KeyError`` for ``extra={"message": ...}``). A redaction pass
keeps secrets out of the output even when a library logs them: logs are read by people who
must not learn tokens. The SDKs' own loggers (``Lark``, ``dingtalk_stream``, ``websockets``)
are adopted into the same JSON output, and so are uncaught thread exceptions and warnings.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
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


_FIELDS = "_gateway_fields"  # the one record attribute that carries kv() fields
_BASE = ("ts", "level", "logger", "msg", "exc")  # keys of every JSON line
# Loggers of the SDKs: lark-oapi (``lark_oapi/core/log.py`` adds a stdout handler with its
# own "[Lark] ..." format at import), dingtalk_stream (``log.py`` ``setup_default_logger``
# adds a plain handler when none is configured yet) and websockets.
SDK_LOGGERS = ("Lark", "dingtalk_stream", "websockets")
# Libraries whose INFO records are logged as DEBUG: the SDKs, the access log, and aiosmtpd
# ("mail.log", the sandbox mail catcher's "Connection lost during _handle_client()").
CHATTY_LOGGERS = (*SDK_LOGGERS, "aiohttp.access", "mail.log")


def kv(**fields: object) -> dict[str, object]:
    """The ``extra=`` of a log call: any field name is allowed, ``message`` included."""
    return {_FIELDS: fields}


def fields_of(record: logging.LogRecord) -> dict[str, object]:
    """The fields a log call passed with ``kv()``."""
    found = getattr(record, _FIELDS, None)
    return dict(found) if isinstance(found, dict) else {}


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


# The ids kept for the rest of one unit of work (an outbox job): see scope() and keep().
_kept: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "log_kept", default=None
)


@contextmanager
def scope() -> Iterator[None]:
    """One unit of work (an outbox job): ids that :func:`keep` learns inside it stay on every
    later line of it, including those logged after the ``bind`` that found them has ended."""
    token = _kept.set({})
    try:
        yield
    finally:
        _kept.reset(token)


def keep(**ids: str) -> None:
    """Attach ids to the rest of the current :func:`scope` (nothing outside one)."""
    kept = _kept.get()
    if kept is not None:
        kept.update(ids)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, bound ids and ``extra`` fields."""

    _reserved = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", _FIELDS}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **(_kept.get() or {}),
            **_context.get(),
        }
        for key, value in record.__dict__.items():
            if key not in self._reserved and not key.startswith("_"):
                entry[key] = value  # a library's own extra= (ours go through kv)
        for key, value in getattr(record, _FIELDS, {}).items():
            entry[f"{key}_" if key in _BASE else key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


def setup(level: str = "INFO", stream: Any = None) -> None:
    """Route all logging through the JSON formatter (idempotent)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_demote_chatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    adopt_sdk_loggers()
    # The libraries' INFO is chatter (every ping, every SMTP client that hangs up): it reaches
    # the log as DEBUG (see _demote_chatter). Their own DEBUG stays off: it dumps whole frames.
    for noisy in CHATTY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.INFO)
    logging.captureWarnings(True)
    threading.excepthook = _thread_died


def _demote_chatter(record: logging.LogRecord) -> bool:
    # A handler filter, not a logger level: the record is kept for a DEBUG log, not dropped.
    if record.levelno == logging.INFO and _is_chatty(record.name):
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)
    return True


def adopt_sdk_loggers() -> None:
    """Drop the handlers the SDKs install for themselves, so their records reach ours.

    Called from :func:`setup` and again by the channel modules right after they import an SDK,
    because lark-oapi installs its handler at import time, whenever that happens.
    """
    for name in SDK_LOGGERS:
        sdk = logging.getLogger(name)
        sdk.handlers.clear()
        sdk.propagate = True
    # dingtalk_stream names its loggers per module; each may already hold a handler.
    for name, found in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("dingtalk_stream.") and isinstance(found, logging.Logger):
            found.handlers.clear()
            found.propagate = True


def _is_chatty(name: str) -> bool:
    return any(name == chatty or name.startswith(chatty + ".") for chatty in CHATTY_LOGGERS)


def _thread_died(args: threading.ExceptHookArgs) -> None:
    # The default hook prints a bare traceback to stderr; an SDK thread dying must be a JSON line.
    value = args.exc_value
    if value is None or isinstance(value, SystemExit):
        return
    thread = args.thread.name if args.thread is not None else "?"
    logging.getLogger("bot.threads").error(
        "thread ended with an exception",
        exc_info=(type(value), value, args.exc_traceback),
        extra=kv(thread=thread),
    )
