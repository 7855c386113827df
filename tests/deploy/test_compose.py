"""docker-compose.yml against the compose-spec JSON schema (vendored from compose-spec/
compose-spec, schema/compose-spec.json), and what the deployment needs of it: two gateway
replicas behind one published port, PostgreSQL, and the secrets from files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "deploy" / "compose" / "compose-spec.json"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_the_compose_file_is_valid_against_the_compose_spec() -> None:
    jsonschema.Draft7Validator.check_schema(json.loads(SCHEMA.read_text()))
    assert _errors(_compose()) == []


def test_the_schema_check_catches_a_mistake() -> None:
    broken = _compose()
    broken["services"]["gateway"]["secrets"][0]["sorce"] = "gateway_toml"  # a typo
    broken["services"]["proxy"]["restart_policy"] = "always"  # deploy.restart_policy, misplaced
    assert len(_errors(broken)) == 2


def test_two_gateway_replicas_behind_one_published_port() -> None:
    services = _compose()["services"]
    gateway, proxy = services["gateway"], services["proxy"]
    assert gateway["deploy"]["replicas"] == 2
    assert "ports" not in gateway  # reached through the proxy only
    assert [str(port).rsplit(":", 1)[1] for port in proxy["ports"]] == ["8080"]
    conf = (ROOT / "deploy" / "compose" / "nginx.conf").read_text()
    assert "server gateway:8080 resolve;" in conf and "proxy_pass http://gateway;" in conf


def test_the_gateway_uses_postgresql_and_takes_its_secrets_from_files() -> None:
    compose = _compose()
    gateway, postgres = compose["services"]["gateway"], compose["services"]["postgres"]
    assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
    (secret,) = gateway["secrets"]
    assert gateway["command"] == ["serve", "--config", f"/run/secrets/{secret['target']}"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    for name, spec in compose["secrets"].items():
        path = ROOT / spec["file"]
        assert path.parent.is_dir() and Path(f"{path}.example").is_file(), name
    # No secret in the environment: neither a value nor a variable that would carry one.
    env = " ".join(gateway["environment"]) + " ".join(map(str, postgres["environment"].values()))
    for name in ("DATABASE_URL", "MASTER_KEY", "BACKEND_SECRET", "POSTGRES_PASSWORD="):
        assert name not in env


@pytest.mark.parametrize("key", ["database_url", "master_key", "backend_secret"])
def test_the_secret_settings_example_names_real_settings(key: str) -> None:
    import tomllib

    from bot.settings.config import Settings

    example = tomllib.loads((ROOT / "deploy/compose/secrets/gateway.toml.example").read_text())
    assert key in example and key in Settings.model_fields


def test_the_gateway_container_is_locked_down() -> None:
    gateway = _compose()["services"]["gateway"]
    assert gateway["read_only"] is True and gateway["tmpfs"] == ["/tmp"]
    assert gateway["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in gateway["security_opt"]
