"""Delegations through the HTTP API: the console for the acting account (signed), an admin for
anyone's (token); refusals name the field and write nothing; every change is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.store.audit import AuditLog
from sandbox.embedded import Embedded
from tests.gateway.helpers import parts
from tests.http.test_bindings_api import _call, _token


def _window(stack: Embedded, start_h: int, end_h: int) -> dict[str, str]:
    now = stack.gateway.clock.now()
    return {
        "starts_at": (now + timedelta(hours=start_h)).isoformat(),
        "ends_at": (now + timedelta(hours=end_h)).isoformat(),
    }


async def _audit(stack: Embedded, action: str) -> list[Any]:
    return list((await AuditLog(stack.gateway.store).page(action=action)).items)


async def test_the_console_sets_reads_and_clears_its_own_delegation(stack: object) -> None:
    embedded, backend, _ = parts(stack)
    body = {"account_id": "ann", "delegate_id": "bo", **_window(embedded, 0, 48)}
    status, set_ = await backend.call("PUT", "/v1/me/delegation", body)
    assert status == 201, set_
    assert (set_["account_id"], set_["delegate_id"], set_["set_by"]) == ("ann", "bo", "ann")

    status, mine = await backend.call("GET", "/v1/me/delegation?account_id=ann")
    assert status == 200 and [d["delegate_id"] for d in mine["delegations"]] == ["bo"]
    assert mine["max_depth"] == 3
    _, others = await backend.call("GET", "/v1/me/delegation?account_id=bo")
    assert others["delegations"] == []

    assert (await backend.call("DELETE", "/v1/me/delegation?account_id=ann"))[0] == 204
    assert (await backend.call("DELETE", "/v1/me/delegation?account_id=ann"))[0] == 404
    _, after = await backend.call("GET", "/v1/me/delegation?account_id=ann")
    assert after["delegations"] == []
    for action in ("delegation.set", "delegation.clear"):
        audited = [(e.who, e.target, e.source) for e in await _audit(embedded, action)]
        assert audited == [("ann", "ann", "console")]


async def test_a_cycle_an_overlap_or_self_is_refused_naming_the_field(stack: object) -> None:
    embedded, backend, _ = parts(stack)
    token, _ = await _token(embedded, "admin")
    ok = await _call(
        embedded,
        "PUT",
        "/v1/delegations/bo",
        token,
        {"delegate_id": "cy", **_window(embedded, 0, 9)},
    )
    assert ok[0] == 201 and ok[1]["set_by"] != "bo", ok
    await backend.call(
        "PUT",
        "/v1/me/delegation",
        {"account_id": "cy", "delegate_id": "ann", **_window(embedded, 5, 9)},
    )
    cases = [
        (
            {"delegate_id": "bo", **_window(embedded, 0, 24)},
            "delegate_id",
            "cycle ann -> bo -> cy -> ann",
        ),
        ({"delegate_id": "ann", **_window(embedded, 0, 24)}, "delegate_id", "is the approver"),
        ({"delegate_id": "bo", **_window(embedded, 2, 1)}, "ends_at", "after starts_at"),
        ({"delegate_id": "bo", "ends_at": "tomorrow"}, "ends_at", ""),
    ]
    for window, field, says in cases:
        status, refused = await backend.call(
            "PUT", "/v1/me/delegation", {"account_id": "ann", **window}
        )
        assert status == 422, refused
        assert says in refused["error"]["fields"][field], refused
    # the same window outside the cycle's hours is fine; a second one overlapping it is not
    ok = await backend.call(
        "PUT",
        "/v1/me/delegation",
        {"account_id": "ann", "delegate_id": "bo", **_window(embedded, 0, 4)},
    )
    assert ok[0] == 201, ok
    status, overlap = await _call(
        embedded,
        "PUT",
        "/v1/delegations/ann",
        token,
        {"delegate_id": "dee", **_window(embedded, 3, 6)},
    )
    assert (
        status == 422 and "overlaps the delegation to bo" in overlap["error"]["fields"]["starts_at"]
    )
    _, everyone = await _call(embedded, "GET", "/v1/delegations", token)
    pairs = [(d["account_id"], d["delegate_id"]) for d in everyone["delegations"]]
    assert pairs == [("ann", "bo"), ("bo", "cy"), ("cy", "ann")]


async def test_the_admin_routes_need_an_admin_token(stack: object) -> None:
    embedded, _, _ = parts(stack)
    support, _ = await _token(embedded, "support")
    body = {"delegate_id": "bo", **_window(embedded, 0, 2)}
    assert (await _call(embedded, "PUT", "/v1/delegations/ann", None, body))[0] == 401
    assert (await _call(embedded, "PUT", "/v1/delegations/ann", support, body))[0] == 403
    assert (await _call(embedded, "GET", "/v1/delegations", support))[0] == 403
    assert (await _call(embedded, "DELETE", "/v1/delegations/ann", support))[0] == 403
