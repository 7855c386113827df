"""Prometheus metrics: counters kept in-process, gauges read from the store at scrape time.

Gauges come from the database rather than from memory so that every replica reports the same
outbox depth and delivery states, and a restart does not reset them. Names follow Prometheus'
rules: counters end in ``_total``, durations are in seconds and say so, and no name is both a
counter and a gauge. The process and Python runtime collectors sit on the same registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.core.lanes import Lane
from bot.core.models import Job
from bot.core.service import FORWARD_DECISION

Snapshot = Mapping[str, Mapping[tuple[str, ...], float]]

# A platform drops a card's answer that takes longer than 3 s (Lark's card callback, DingTalk's
# stream ack): the buckets sit around that budget so its share over 2.5 s and 3 s is readable.
CLICK_BUCKETS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The gateway's metrics, on a registry of its own (no process-global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.requests = Counter(
            "gateway_requests_total", "Approval requests accepted", registry=self.registry
        )
        self.clicks = Counter(
            "gateway_clicks_total",
            "Card clicks by answer",
            ["channel", "status"],
            registry=self.registry,
        )
        self.click_seconds = Histogram(
            "gateway_click_answer_seconds",
            "From a click reaching the gateway to its answer (the platforms allow 3 s)",
            ["channel"],
            buckets=CLICK_BUCKETS,
            registry=self.registry,
        )
        self.throttling = Counter(
            "gateway_throttled_total",
            "Calls a platform or the backend throttled",
            ["kind"],
            registry=self.registry,
        )
        self.platform_errors = Counter(
            "gateway_platform_errors_total",
            "Failed platform calls of outbox jobs, by platform and error code",
            ["platform", "code"],
            registry=self.registry,
        )
        self.forward_latency = Histogram(
            "gateway_forward_latency_seconds",
            "From decision to the backend accepting it",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "gateway_outbox_lag_seconds",
            "Age of the oldest job this replica's lane claimed last (0: nothing was due)",
            ["lane"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "gateway_http_requests_total",
            "HTTP requests answered, by route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "gateway_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self._lanes: tuple[Lane, ...] = ()
        self._snapshot: Snapshot = {}
        # Each label set's children, looked up once (method, route template, status).
        self._http_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.registry.register(_SnapshotCollector(lambda: self._snapshot))

    def watch_lanes(self, lanes: Iterable[Lane]) -> None:
        """The outbox lanes whose depth and lag to report (the worker's)."""
        self._lanes = tuple(lanes)
        for lane in self._lanes:
            self.outbox_lag.labels(lane=lane.name).set(0)

    def job_done(self, job: Job, now: datetime) -> None:
        """Record a finished job (forward latency counts from the decision)."""
        if job.kind == FORWARD_DECISION:
            self.forward_latency.observe(max((now - job.created_at).total_seconds(), 0.0))

    def throttled(self, kind: str) -> None:
        """A platform or the backend asked us to slow down."""
        self.throttling.labels(kind=kind).inc()

    def click_answered(self, channel: str, status: str, seconds: float) -> None:
        """A click was answered with ``status`` after ``seconds``."""
        self.clicks.labels(channel=channel, status=status).inc()
        self.click_seconds.labels(channel=channel).observe(seconds)

    def http_answered(self, method: str, route: str, status: int, seconds: float) -> None:
        """An HTTP request on ``route`` (its template, never the raw path) was answered."""
        key = (method, route, status)
        children = self._http_children.get(key)
        if children is None:  # the library's label look-up costs more than the count itself
            children = (
                self.http_requests.labels(method=method, route=route, status=str(status)),
                self.http_seconds.labels(method=method, route=route),
            )
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self, snapshot: Snapshot) -> bytes:
        """Prometheus text exposition, with the gauges read from the store just now."""
        self._snapshot = {**snapshot, "outbox_lanes": self._lane_depths(snapshot)}
        return generate_latest(self.registry)

    def _lane_depths(self, snapshot: Snapshot) -> dict[tuple[str, ...], float]:
        depths: dict[tuple[str, ...], float] = {(lane.name,): 0.0 for lane in self._lanes}
        for (kind,), n in snapshot.get("outbox", {}).items():
            lane = next((lane for lane in self._lanes if lane.takes(kind)), None)
            if lane is not None:
                depths[(lane.name,)] += n
        return depths


_GAUGES = {
    "outbox": ("gateway_outbox_depth", "Outbox jobs waiting, by kind", ["kind"]),
    "outbox_lanes": (
        "gateway_outbox_lane_depth",
        "Outbox jobs waiting, by lane (forwards, updates, sends)",
        ["lane"],
    ),
    "deliveries": ("gateway_deliveries", "Deliveries by channel and state", ["channel", "state"]),
    # Not "gateway_requests": that name is the accepted-requests counter's family.
    "requests_by_status": (
        "gateway_requests_by_status",
        "Requests by status",
        ["status"],
    ),
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
