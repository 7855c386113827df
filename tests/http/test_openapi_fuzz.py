"""Schemathesis against ``/v1/openapi.json``: no operation answers any generated request with a 5xx.

Every operation is driven with valid (positive) and invalid (negative) requests generated from
the document itself, signed per RFC 9421 where the operation is signed and carrying an admin
token where it takes one, so the fuzzing reaches the handlers instead of stopping at a 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.schemas import APIOperation

from bot.backend.signing import sign_request
from bot.http.openapi import document
from tests.gateway.helpers import ThreadedGateway

SCHEMA = schemathesis.openapi.from_dict(document())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
# Negative cases need something to break: a parameter or a body.
CASES = [(op, GenerationMode.POSITIVE) for op in OPERATIONS] + [
    (op, GenerationMode.NEGATIVE)
    for op in OPERATIONS
    if list(op.iter_parameters()) or list(op.body)
]
EXAMPLES = 12  # per operation and mode: ~650 requests in all, a few seconds


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedGateway]:
    running = ThreadedGateway(tmp_path_factory.mktemp("fuzz"))
    yield running
    running.close()


@pytest.fixture(scope="module")
def admin(gateway: ThreadedGateway) -> str:
    return gateway.token("admin")


def _schemes(operation: APIOperation) -> set[str]:
    declared = operation.definition.raw.get("security", [{"bearer": []}])
    return {name for requirement in declared for name in requirement}


def _send(gateway: ThreadedGateway, admin: str, operation: APIOperation, case: object) -> int:
    kwargs = case.as_transport_kwargs(base_url=gateway.url)  # type: ignore[attr-defined]
    kwargs.pop("timeout", None)
    prepared = requests.Request(**kwargs).prepare()
    schemes = _schemes(operation)
    if "httpMessageSignature" in schemes:
        body = prepared.body or b""
        raw = body.encode() if isinstance(body, str) else body
        target = urlsplit(prepared.url).path + (
            "?" + urlsplit(prepared.url).query if urlsplit(prepared.url).query else ""
        )
        backend = gateway.embedded.backend
        assert backend is not None
        prepared.headers.update(sign_request(backend.secret, prepared.method or "GET", target, raw))
    elif "bearer" in schemes:
        prepared.headers["Authorization"] = f"Bearer {admin}"
    with requests.Session() as session:
        return session.send(prepared, timeout=10).status_code


@pytest.mark.parametrize(
    ("operation", "mode"), CASES, ids=[f"{op.method} {op.path} {mode.value}" for op, mode in CASES]
)
def test_no_operation_answers_a_server_error(
    gateway: ThreadedGateway, admin: str, operation: APIOperation, mode: GenerationMode
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: object) -> None:
        status = _send(gateway, admin, operation, case)
        assert status < 500, case.as_curl_command()  # type: ignore[attr-defined]

    check()
