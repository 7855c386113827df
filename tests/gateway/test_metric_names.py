"""``/metrics`` parses, follows Prometheus' naming rules, and carries the operations metrics:
HTTP calls by route template, the process and runtime, outbox lanes, platform errors, clicks."""

from __future__ import annotations

import re

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.core.models import ClickAction
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually, parts

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# Units Prometheus wants in base form: seconds and bytes, never these.
NOT_BASE_UNITS = ("_milliseconds", "_ms", "_minutes", "_hours", "_kilobytes", "_megabytes")


async def _scrape(url: str) -> str:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/metrics") as r:
        assert r.status == 200
        return await r.text()


def _samples(text: str) -> dict[str, list[Sample]]:
    found: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


@pytest.fixture
async def metrics_text(stack: object) -> str:
    """A scrape after a request was submitted, sent, decided and forwarded."""
    gateway, backend, memory = parts(stack)
    await backend.submit(sample_ticket("T-NAMES", [approver("a1", "Ann")]))
    delivery = (await backend.trace("T-NAMES"))[1]["deliveries"][0]["delivery_id"]
    await memory.wait_for(delivery)
    await memory.click("a1", delivery, ClickAction.APPROVE)
    await backend.wait_for_decision("T-NAMES")
    return await _scrape(gateway.gateway.url)


def test_naming_rules_hold_for_every_family(metrics_text: str) -> None:
    types: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics_text):
        assert NAME.match(family.name), family.name
        types.setdefault(family.name, set()).add(family.type)
        if family.type == "counter":
            for sample in family.samples:
                assert sample.name.endswith(("_total", "_created")), sample.name
        else:
            assert not family.name.endswith("_total"), f"{family.name} is a {family.type}"
        if family.type == "histogram" and family.name.startswith("gateway_"):
            assert family.name.endswith("_seconds"), family.name
        assert not family.name.endswith(NOT_BASE_UNITS), family.name
    both = {name: kinds for name, kinds in types.items() if len(kinds) > 1}
    assert not both, f"one name, several types: {both}"


def test_process_and_runtime_metrics_are_exposed(metrics_text: str) -> None:
    samples = _samples(metrics_text)
    for name in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "python_info",
        "python_gc_collections_total",
    ):
        assert name in samples, name


async def test_http_calls_are_counted_by_route_template(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    url = gateway.gateway.url
    await backend.submit(sample_ticket("T-ROUTE", [approver("a1", "Ann")]))
    assert (await backend.trace("T-ROUTE"))[0] == 200
    async with aiohttp.ClientSession() as s, s.get(f"{url}/no/such/path?token=x") as r:
        assert r.status == 404
    text = await _scrape(url)
    assert "T-ROUTE" not in text and "/no/such/path" not in text  # never the raw path
    calls = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in _samples(text)["gateway_http_requests_total"]
    }
    assert calls[("POST", "/v1/approvals", "202")] == 1
    assert calls[("GET", "/v1/approvals/{ticket_id}", "200")] == 1
    assert calls[("GET", "unmatched", "404")] == 1
    counts = {
        (s.labels["method"], s.labels["route"]): s.value
        for s in _samples(text)["gateway_http_request_duration_seconds_count"]
    }
    assert counts[("GET", "/v1/approvals/{ticket_id}")] == 1


async def test_outbox_lanes_platform_errors_and_click_time(stack: object) -> None:
    gateway, backend, memory = parts(stack)
    url = gateway.gateway.url
    memory.refused.add("gone")  # the platform refuses this user for good
    await backend.submit(sample_ticket("T-LANE", [approver("a1", "Ann"), approver("gone", "Al")]))
    card = await memory.wait_for(
        next(
            d for d in (await backend.trace("T-LANE"))[1]["deliveries"] if d["account_id"] == "a1"
        )["delivery_id"]
    )
    await memory.click("a1", card.delivery_id, ClickAction.APPROVE)
    await backend.wait_for_decision("T-LANE")

    async def errors_counted() -> dict[str, list[Sample]] | None:
        samples = _samples(await _scrape(url))
        return samples if "gateway_platform_errors_total" in samples else None

    samples = await eventually(errors_counted)
    [error] = samples["gateway_platform_errors_total"]
    assert error.labels == {"platform": "memory", "code": "channel_error"} and error.value == 1
    lanes = {s.labels["lane"] for s in samples["gateway_outbox_lane_depth"]}
    paced = {"updates-lark", "updates-dingtalk", "updates-dingtalk_enterprise"}
    assert lanes == {"forwards", "updates", "sends", "timers", *paced}
    assert {s.labels["lane"] for s in samples["gateway_outbox_lag_seconds"]} == lanes
    [clicks] = [
        s for s in samples["gateway_click_answer_seconds_count"] if s.labels["channel"] == "memory"
    ]
    assert clicks.value == 1
    budget = {
        s.labels["le"]
        for s in samples["gateway_click_answer_seconds_bucket"]
        if s.labels["channel"] == "memory"
    }
    assert {"0.5", "1.0", "2.0", "2.5", "3.0"} <= budget
