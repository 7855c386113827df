"""OpenTelemetry traces, one per approval request: intake, routing, each send, click and forward.

Optional: ``pip install approval-gateway[otel]`` brings the SDK, and the standard ``OTEL_*``
variables switch it on (:func:`setup`). Without the extra, or switched off, every function here
binds the log ids and does nothing else: this is the one module that imports OpenTelemetry.

A request's trace id *is* its request id (both are 128 random bits, as 32 hex digits), and its
root span id is derived from it, so the trace context is stored with the request for free: a
send job on another replica a day later, a click, or the forward each rebuild it from the request
id and join the same trace, with nothing more to keep in the database. The root is the intake
span; it links to the HTTP call that carried it, which may belong to the caller's own trace.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bot.logs import bind, keep, kv

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:  # the otel extra is not installed: tracing stays off
    HAVE_OTEL = False
else:
    HAVE_OTEL = True

log = logging.getLogger("bot.tracing")
Attrs = Mapping[str, str | int | float | bool]

# The ids the next span must take (the root of a request's trace), else None: random ones.
_forced: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "forced_span_ids", default=None
)
_tracer: Any = None  # an opentelemetry Tracer while tracing is on
_provider: Any = None


def wanted(env: Mapping[str, str]) -> bool:
    """Whether ``env`` asks for traces: an OTLP endpoint, or an exporter other than ``none``
    (and the SDK not disabled)."""
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return any(
        env.get(name)
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def setup(env: Mapping[str, str] | None = None) -> bool:
    """Start exporting traces when the ``OTEL_*`` variables ask for it (idempotent); whether
    tracing is on."""
    env = os.environ if env is None else env
    if _tracer is not None or not wanted(env):
        return _tracer is not None
    if not HAVE_OTEL:
        log.warning(
            "OTEL_* variables are set but the otel extra is not installed: no traces",
            extra=kv(hint="pip install approval-gateway[otel]"),
        )
        return False
    start(_exporting(env))
    return True


def start(processor: SpanProcessor) -> None:
    """Trace through ``processor`` (an exporting one from :func:`setup`; tests pass an
    in-memory one)."""
    global _tracer, _provider
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME") or "approval-gateway"}
    )
    _provider = TracerProvider(resource=resource, id_generator=_RequestIds())
    _provider.add_span_processor(processor)
    _tracer = _provider.get_tracer("bot")


def stop() -> None:
    """Flush and stop tracing (at exit, and between tests)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def _exporting(env: Mapping[str, str]) -> SpanProcessor:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    kind = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if kind == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    if env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "").strip() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:  # the specification's default, http/protobuf
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return BatchSpanProcessor(OTLPSpanExporter())  # endpoint, headers: from OTEL_* itself


def trace_ids(request_id: str) -> tuple[int, int]:
    """The trace id and root span id of a request's trace."""
    try:
        trace_id = int(request_id, 16) if len(request_id) == 32 else 0
    except ValueError:
        trace_id = 0
    if not trace_id:  # not a 128-bit hex id (none is made so today): a stable hash of it
        trace_id = int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:16], "big") or 1
    span_id = int.from_bytes(hashlib.sha256(f"root:{request_id}".encode()).digest()[:8], "big")
    return trace_id, span_id or 1


@contextmanager
def intake(request_id: str, ticket_id: str, **attrs: str | int) -> Iterator[None]:
    """The root span of a new request's trace; the log lines inside carry its ids."""
    with bind(request_id=request_id, ticket_id=ticket_id):
        if _tracer is None:
            yield
            return
        token = _forced.set(trace_ids(request_id))
        try:
            span = _tracer.start_span(
                "approval.intake",
                context=otel_context.Context(),  # a root, whatever HTTP call carried it
                links=_link_to_current(),
                attributes=_attrs(request_id, ticket_id, attrs),
            )
        finally:
            _forced.reset(token)
        with trace.use_span(span, end_on_exit=True):
            yield


@contextmanager
def joined(name: str, request_id: str, ticket_id: str, **attrs: str | int) -> Iterator[None]:
    """A span in request ``request_id``'s trace (a send, an update, a forward); the log lines of
    the rest of the job carry the request's ids too."""
    keep(request_id=request_id, ticket_id=ticket_id)
    with bind(request_id=request_id, ticket_id=ticket_id):
        if _tracer is None:
            yield
            return
        with _tracer.start_as_current_span(
            name,
            context=_request_context(request_id),
            attributes=_attrs(request_id, ticket_id, attrs),
        ):
            yield


@contextmanager
def span(name: str, **attrs: str | int) -> Iterator[None]:
    """A child of the current span (routing one approver inside the intake)."""
    if _tracer is None:
        yield
        return
    with _tracer.start_as_current_span(name, attributes=dict(attrs)):
        yield


def now_ns() -> int:
    """A span's start time, taken before its request id is known (:func:`record`)."""
    return time.time_ns()


def record(name: str, request_id: str, ticket_id: str, started_ns: int, **attrs: str | int) -> None:
    """A finished span in the request's trace, begun at ``started_ns`` (a click: its request is
    known only once the click is decided)."""
    if _tracer is None:
        return
    done = _tracer.start_span(
        name,
        context=_request_context(request_id),
        start_time=started_ns,
        attributes=_attrs(request_id, ticket_id, attrs),
    )
    done.end()


@contextmanager
def server(method: str, route: str, headers: Mapping[str, str]) -> Iterator[None]:
    """The span of one HTTP call, in the caller's trace when it sent a ``traceparent``."""
    if _tracer is None:
        yield
        return
    parent = TraceContextTextMapPropagator().extract(carrier=dict(headers))
    with _tracer.start_as_current_span(
        f"{method} {route}",
        context=parent,
        kind=trace.SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": route},
    ):
        yield


def set_status(code: int) -> None:
    """The HTTP status of the call the current span serves."""
    if _tracer is not None:
        trace.get_current_span().set_attribute("http.response.status_code", code)


def traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, for a call it makes (the decision webhook)."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


def _request_context(request_id: str) -> Any:
    trace_id, span_id = trace_ids(request_id)
    root = trace.SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED)
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(root), otel_context.Context())


def _link_to_current() -> list[Any]:
    current = trace.get_current_span().get_span_context()
    return [trace.Link(current)] if current.is_valid else []


def _attrs(request_id: str, ticket_id: str, attrs: Mapping[str, str | int]) -> dict[str, Any]:
    return {"approval.request_id": request_id, "approval.ticket_id": ticket_id, **attrs}


if HAVE_OTEL:

    class _RequestIds(RandomIdGenerator):
        # The root span of a request takes the ids derived from its request id, once.
        def generate_trace_id(self) -> int:
            forced = _forced.get()
            return forced[0] if forced else super().generate_trace_id()

        def generate_span_id(self) -> int:
            forced = _forced.get()
            return forced[1] if forced else super().generate_span_id()

        def is_trace_id_random(self) -> bool:
            return _forced.get() is None
