"""Prometheus metrics: counters kept in-process, gauges read from the store at scrape time.

Gauges come from the database rather than from memory so that every replica reports the same
outbox depth and delivery states, and a restart does not reset them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.core.models import Job
from bot.core.service import FORWARD_DECISION

Snapshot = Mapping[str, Mapping[tuple[str, ...], float]]


class Metrics:
    """The gateway's metrics, on a registry of its own (no process-global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gateway_requests_total", "Approval requests accepted", registry=self.registry
        )
        self.clicks = Counter(
            "gateway_clicks_total",
            "Card clicks by answer",
            ["channel", "status"],
            registry=self.registry,
        )
        self.throttling = Counter(
            "gateway_throttled_total",
            "Calls a platform or the backend throttled",
            ["kind"],
            registry=self.registry,
        )
        self.forward_latency = Histogram(
            "gateway_forward_latency_seconds",
            "From decision to the backend accepting it",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            registry=self.registry,
        )
        self._snapshot: Snapshot = {}
        self.registry.register(_SnapshotCollector(lambda: self._snapshot))

    def job_done(self, job: Job, now: datetime) -> None:
        """Record a finished job (forward latency counts from the decision)."""
        if job.kind == FORWARD_DECISION:
            self.forward_latency.observe(max((now - job.created_at).total_seconds(), 0.0))

    def throttled(self, kind: str) -> None:
        """A platform or the backend asked us to slow down."""
        self.throttling.labels(kind=kind).inc()

    def render(self, snapshot: Snapshot) -> bytes:
        """Prometheus text exposition, with the gauges read from the store just now."""
        self._snapshot = snapshot
        return generate_latest(self.registry)


_GAUGES = {
    "outbox": ("gateway_outbox_depth", "Outbox jobs waiting, by kind", ["kind"]),
    "deliveries": ("gateway_deliveries", "Deliveries by channel and state", ["channel", "state"]),
    "requests_by_status": ("gateway_requests", "Requests by status", ["status"]),
    "channels": ("gateway_channel_connected", "1 when the channel's stream is up", ["channel"]),
}


# Read from the store like the gauges, but monotonic across restarts: exposed as counters.
_COUNTERS = {
    "messages": (
        "gateway_messages",
        "Messages the platforms took (sent, updated), by channel",
        ["channel", "kind"],
    ),
}


class _SnapshotCollector(Collector):
    def __init__(self, source: Callable[[], Snapshot]) -> None:
        self._source = source

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        snapshot = self._source()
        for key, (name, doc, labels) in _GAUGES.items():
            family = GaugeMetricFamily(name, doc, labels=labels)
            for label_values, value in snapshot.get(key, {}).items():
                family.add_metric(list(label_values), value)
            yield family
        for key, (name, doc, labels) in _COUNTERS.items():
            counter = CounterMetricFamily(name, doc, labels=labels)
            for label_values, value in snapshot.get(key, {}).items():
                counter.add_metric(list(label_values), value)
            yield counter
