"""The multi-approver intake contract through POST /v1/approvals: what is accepted, and the
field each refusal names (nothing is stored for a refused request)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import parts, row_counts

SUBMITTER = "1001"  # sample_ticket's submitter


def _people(*ids: str) -> list[dict[str, str]]:
    return [approver(i, f"Person {i}") for i in ids]


def _staged(*stages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    ticket = sample_ticket("T-POL", [])
    del ticket["approvers"]
    return {**ticket, "stages": list(stages), **extra}


def _ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{j}" for j in range(count)]


def _flat(ids: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    return {**sample_ticket("T-POL", _people(*ids)), **extra}


ACCEPTED = [
    _flat(("a", "b"), policy={"rule": "all"}, notify_submitter=True),
    _flat(("a", "b", "c"), policy={"rule": "quorum", "quorum": 3}),
    _flat((SUBMITTER, "a"), policy={"rule": "quorum", "quorum": 2, "allow_self_approval": True}),
    _staged(
        {"name": "DBA review", "approvers": _people("d1", "d2"), "rule": "all"},
        {"name": "Service owner", "approvers": _people("o1", "d1"), "rule": "quorum", "quorum": 1},
    ),
    _flat(("a",), fields=[{"name": "SQL", "value": "DROP TABLE t;", "kind": "code"}]),
    _flat(("a",), fields=[{"name": "Risk", "value": "high", "kind": "risk"}]),
]


@pytest.mark.parametrize("ticket", ACCEPTED, ids=range(len(ACCEPTED)))
async def test_policies_within_the_contract_are_accepted(stack: object, ticket: Any) -> None:
    _, backend, _ = parts(stack)
    status, body = await backend.submit(ticket)
    assert status == 202, body


REFUSED = [
    (_staged({"name": "x", "approvers": _people("a")}, approvers=_people("a")), "stages"),
    (_staged(), "stages"),
    (_flat(("a", "b"), policy={"rule": "quorum"}), "policy.quorum"),
    (_flat(("a", "b"), policy={"rule": "quorum", "quorum": 3}), "policy.quorum"),
    (_flat(("a", "b"), policy={"rule": "quorum", "quorum": 0}), "policy.quorum"),
    (_flat(("a", "b"), policy={"rule": "all", "quorum": 1}), "policy.quorum"),
    (_flat(("a", "b"), policy={"rule": "most"}), "policy.rule"),
    (_flat(("a",), policy={"rule": "any", "allow": True}), "policy.allow"),
    # the submitter does not count unless allowed: a quorum of 2 out of one other approver
    (_flat((SUBMITTER, "a"), policy={"rule": "quorum", "quorum": 2}), "policy.quorum"),
    (_flat((SUBMITTER,), policy={"rule": "any"}), "approvers"),
    (_staged({"name": "own", "approvers": _people(SUBMITTER)}), "stages.0.approvers"),
    (_staged({"name": "x", "approvers": _people("a", "a")}), "stages.0.approvers"),
    (_staged({"name": "x", "approvers": []}), "stages.0.approvers"),
    (_staged({"name": "", "approvers": _people("a")}), "stages.0.name"),
    (
        _staged(
            {"name": "x", "approvers": _people("a")},
            {"name": "y", "approvers": _people("a", "b"), "rule": "quorum", "quorum": 3},
        ),
        "stages.1.quorum",
    ),
    (
        _staged({"name": "x", "approvers": _people("a")}, policy={"rule": "all"}),
        "policy.rule",
    ),
    (_staged(*[{"name": f"s{i}", "approvers": _people("a")} for i in range(11)]), "stages"),
    # 10 stages of 11: 110 approvers in all
    (
        _staged(*[{"name": f"s{i}", "approvers": _people(*_ids(f"p{i}-", 11))} for i in range(10)]),
        "stages",
    ),
    (_flat(tuple(f"p{i}" for i in range(101))), "approvers"),
    (
        _flat(("a",), fields=[{"name": "Risk", "value": "extreme", "kind": "risk"}]),
        "fields.0.value",
    ),
    (_flat(("a",), fields=[{"name": "SQL", "value": "x", "kind": "diagram"}]), "fields.0.kind"),
]


@pytest.mark.parametrize(("ticket", "field"), REFUSED, ids=[f for _, f in REFUSED])
async def test_policies_outside_the_contract_are_a_422_naming_the_field(
    stack: object, ticket: Any, field: str
) -> None:
    gateway, backend, _ = parts(stack)
    status, body = await backend.submit(ticket)
    assert status == 422, body
    assert field in body["error"]["fields"], body
    if field != "policy.allow":  # the fields of the contract are known ones
        assert "Extra inputs" not in body["error"]["fields"][field], body
    assert row_counts(gateway.gateway.settings.db_path)["requests"] == 0
