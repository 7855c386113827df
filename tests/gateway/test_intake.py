"""Submissions are stored before the answer, idempotent by request id, and bad input is a 4xx."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.backend import SandboxBackend
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import ThreadedGateway, eventually, parts, row_counts, states


async def test_accepted_request_is_stored_with_its_planned_deliveries(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    ticket = sample_ticket("T-1", [approver("a1", "Ann"), approver("a2", "Bob", "ram")])
    status, receipt = await backend.submit(ticket)
    assert status == 202
    assert receipt["ticket_id"] == "T-1" and receipt["status"] == "pending"
    assert {d["account_id"] for d in receipt["deliveries"]} == {"a1", "a2"}
    assert row_counts(gateway.gateway.settings.db_path)["deliveries"] == 2


async def test_idempotent_resubmit_gives_the_same_answer_and_writes_nothing(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    ticket = sample_ticket("T-IDEM", [approver("a1", "Ann")])
    first = await backend.submit(ticket, request_id="req-same-1")
    await eventually(lambda: _all_sent(backend, "T-IDEM"))
    before = row_counts(gateway.gateway.settings.db_path)
    # A retry re-signed later (another created time) under the same request id.
    raw = json.dumps(ticket, ensure_ascii=False).encode()
    later = datetime.now(UTC) + timedelta(seconds=30)
    headers = backend.sign("POST", "/v1/approvals", raw, request_id="req-same-1", at=later)
    url = gateway.gateway.url + "/v1/approvals"
    async with aiohttp.ClientSession() as s, s.post(url, data=raw, headers=headers) as r:
        again = (r.status, await r.json())
    assert again == first
    assert row_counts(gateway.gateway.settings.db_path) == before


async def _all_sent(backend: SandboxBackend, ticket_id: str) -> bool:
    return await states(backend, ticket_id) == ["sent"]


async def test_same_request_id_with_another_body_is_a_conflict(stack: object) -> None:
    gateway, backend, _ = parts(stack)
    await backend.submit(sample_ticket("T-A", [approver("a1", "Ann")]), request_id="req-conflict-1")
    # Let the card go out first, so the worker's own writes don't change the counts below.
    await eventually(lambda: _all_sent(backend, "T-A"))
    before = row_counts(gateway.gateway.settings.db_path)
    status, body = await backend.submit(
        sample_ticket("T-B", [approver("a1", "Ann")]), request_id="req-conflict-1"
    )
    assert status == 409 and body["error"]["code"] == "request_id_reused"
    assert row_counts(gateway.gateway.settings.db_path) == before


async def test_a_ticket_is_submitted_once(stack: object) -> None:
    _, backend, _ = parts(stack)
    assert (await backend.submit(sample_ticket("T-DUP", [approver("a1", "Ann")])))[0] == 202
    status, body = await backend.submit(sample_ticket("T-DUP", [approver("a1", "Ann")]))
    assert status == 409 and "already submitted" in body["error"]["message"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda t: t.pop("approvers"), "approvers"),
        (lambda t: t.update(approvers=[]), "approvers"),
        (lambda t: t["approvers"][0].update(account_type="root"), "approvers.0.account_type"),
        (lambda t: t.update(console_url="not a url"), "console_url"),
        (lambda t: t.update(expires_at="tomorrow"), "expires_at"),
        (lambda t: t.update(expires_at="2030-01-01T00:00:00"), "expires_at"),  # no timezone
        (lambda t: t.update(locale="fr-FR"), "locale"),
        (lambda t: t.update(surprise=1), "surprise"),
        (lambda t: t.update(approvers=[approver("a1", "A"), approver("a1", "B")]), "approvers"),
        (lambda t: t.update(ticket_id="bad id with spaces"), "ticket_id"),
    ],
)
async def test_invalid_fields_are_named(stack: object, mutate: Any, field: str) -> None:
    gateway, backend, _ = parts(stack)
    ticket = sample_ticket("T-BAD", [approver("a1", "Ann")])
    mutate(ticket)
    status, body = await backend.submit(ticket)
    assert status == 422, body
    assert field in body["error"]["fields"], body
    assert row_counts(gateway.gateway.settings.db_path)["requests"] == 0


async def test_an_expired_request_is_refused(stack: object) -> None:
    _, backend, _ = parts(stack)
    ticket = sample_ticket("T-OLD", [approver("a1", "Ann")])
    ticket["expires_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    status, body = await backend.submit(ticket)
    assert status == 422 and "expires_at" in body["error"]["fields"]


# ---------------------------------------------------------------- property test


@pytest.fixture(scope="module")
def threaded_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedGateway]:
    gateway = ThreadedGateway(tmp_path_factory.mktemp("hypothesis"))
    yield gateway
    gateway.close()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_BASE = sample_ticket("T-PROP", [approver("a1", "Ann")], expires_in=timedelta(days=3650))


@st.composite
def _broken_tickets(draw: st.DrawFn) -> Any:
    """A valid ticket with one part replaced, removed or added — or arbitrary JSON."""
    if draw(st.booleans()):
        return draw(_json)
    ticket = copy.deepcopy(_BASE)
    path = draw(
        st.sampled_from(
            [
                ("ticket_id",),
                ("title",),
                ("fields",),
                ("submitter",),
                ("submitter", "account_id"),
                ("approvers",),
                ("approvers", 0),
                ("approvers", 0, "account_type"),
                ("approvers", 0, "region"),
                ("console_url",),
                ("expires_at",),
                ("locale",),
                ("extra",),
            ]
        )
    )
    target: Any = ticket
    for key in path[:-1]:
        target = target[key]
    if draw(st.booleans()) and path[-1] in target and path != ("extra",):
        del target[path[-1]]
    else:
        target[path[-1]] = draw(_json)
    return ticket


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_broken_tickets())
def test_invalid_bodies_get_a_4xx_with_fields_never_a_500(
    threaded_gateway: ThreadedGateway, body: Any
) -> None:
    status, answer = threaded_gateway.post(json.dumps(body).encode())
    if status == 202:
        # A mutation can still be valid (e.g. a title replaced by another string): fine, stored.
        return
    assert 400 <= status < 500, answer
    assert answer["error"]["code"] in {"invalid_input", "invalid_json", "conflict"}
    if status == 422:
        assert answer["error"]["fields"], answer
