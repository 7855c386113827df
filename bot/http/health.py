"""Liveness, readiness and Prometheus metrics.

Several replicas may share one database and one platform app: ``/readyz`` answers for this
process alone (its own store handle, its own stream connections) and names the replica by the
id it claims outbox jobs under, so a lease seen in the database can be traced to a process.
"""

from __future__ import annotations

import os
from typing import Any

from aiohttp import web

from bot.http.channels import ACCESS
from bot.http.deps import DEPS, HttpDeps
from bot.http.schemas import HealthOut, ReadyOut
from bot.http.spec import OPEN, Answer, operation
from bot.metrics import Snapshot

routes = web.RouteTableDef()

REPLICA = web.AppKey("replica", str)  # this process's lease owner id, set by the runtime
LISTENER = "store_listener"  # the check of the LISTEN connection, on a shared (PostgreSQL) store
# Settings.ready_without_channels, set by the runtime: ready with no channel authorized.
READY_WITHOUT_CHANNELS = web.AppKey("ready_without_channels", bool)


@routes.get("/healthz")
@operation(
    "getLiveness",
    "health",
    "Liveness",
    OPEN,
    answers=[Answer(200, HealthOut, "up")],
)
async def healthz(request: web.Request) -> web.Response:
    """The process is up."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
@operation(
    "getReadiness",
    "health",
    "Readiness: store writable, every authorized stream connected",
    OPEN,
    answers=[Answer(200, ReadyOut, "ready"), Answer(503, ReadyOut, "not ready, and why")],
)
async def readyz(request: web.Request) -> web.Response:
    """Ready only when the store is open and can write, on PostgreSQL hears the other replicas'
    NOTIFYs (its LISTEN connection is up), at least one channel is authorized (unless the
    deployment says none is needed), and every authorized channel's stream is connected; a
    channel that needs consent again or is broken is not ready, and says why."""
    deps = request.app[DEPS]
    problem = await deps.health.problem()
    checks = {"store": problem is None}
    details = {"store": problem or "writable"}
    listener = deps.health.listener()
    if listener is not None:  # other replicas write the store: their NOTIFYs must be heard
        checks[LISTENER], details[LISTENER] = listener
    channel_checks = _channel_checks(request.app, deps)
    for name, (ok, detail) in channel_checks.items():
        if ok is not None:  # None: unauthorized or revoked on purpose, not a fault
            checks[name] = ok
        details[name] = detail
    unreachable = _no_channel(request.app, channel_checks)
    if unreachable:
        checks["channels"], details["channels"] = False, unreachable
    ready = all(checks.values())
    return web.json_response(
        {
            "status": "ready" if ready else "not ready",
            "checks": details,
            "replica": _replica(request.app, deps),
        },
        status=200 if ready else 503,
    )


def _no_channel(app: web.Application, checks: dict[str, tuple[bool | None, str]]) -> str:
    # With no channel authorized no approver can be reached: a deployment that means it (email
    # set up later, or none at all) says so with READY_WITHOUT_CHANNELS.
    if app.get(READY_WITHOUT_CHANNELS, False) or any(ok is not None for ok, _ in checks.values()):
        return ""
    return (
        "no channel is authorized: no approver can be reached (authorize one, or set "
        "APPROVAL_GATEWAY_READY_WITHOUT_CHANNELS=true if that is intended)"
    )


def _replica(app: web.Application, deps: HttpDeps) -> dict[str, Any]:
    """Who answers, and which channels' streams are up in this process (not in the others)."""
    return {
        "id": app.get(REPLICA, ""),
        "pid": os.getpid(),
        "connections": {name: ch.health().connected for name, ch in deps.channels.items()},
    }


def _channel_checks(app: web.Application, deps: HttpDeps) -> dict[str, tuple[bool | None, str]]:
    access = app.get(ACCESS)
    if access is not None:
        return access.readiness()
    checks: dict[str, tuple[bool | None, str]] = {}
    for name, channel in deps.channels.items():
        health = channel.health()
        checks[name] = (
            health.connected,
            health.detail or ("connected" if health.connected else "disconnected"),
        )
    return checks


@routes.get("/metrics")
@operation(
    "getMetrics",
    "health",
    "Prometheus metrics",
    OPEN,
    answers=[Answer(200, None, "text exposition", media="text/plain")],
)
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    deps = request.app[DEPS]
    body = deps.metrics.render(await _snapshot(deps))
    return web.Response(body=body, headers={"content-type": "text/plain; version=0.0.4"})


async def _snapshot(deps: HttpDeps) -> Snapshot:
    gauges = await deps.health.gauges()
    messages = await deps.usage.totals()
    return {
        "messages": {key: float(n) for key, n in messages.items()},
        "outbox": {(kind,): float(n) for kind, n in gauges.outbox.items()},
        "deliveries": {key: float(n) for key, n in gauges.deliveries.items()},
        "requests_by_status": {(status,): float(n) for status, n in gauges.requests.items()},
        "channels": {
            (name,): 1.0 if ch.health().connected else 0.0 for name, ch in deps.channels.items()
        },
    }
