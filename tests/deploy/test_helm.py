"""deploy/helm/approval-gateway, checked without the helm binary (neither apt, PyPI nor npm
ships it here, so `helm lint` cannot run) and without rendering the templates: Chart.yaml's
fields, values.yaml against values.schema.json (the schema helm itself enforces at install),
every ``.Values`` path a template reads, and each manifest's YAML skeleton."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import bot
from bot.http.health import routes
from bot.settings.config import Settings

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "approval-gateway"
TEMPLATES = sorted((CHART / "templates").glob("*.yaml"))
# What an operator must add to the defaults: the Secret and the backend (the schema says so).
REQUIRED = {"secrets": {"existingSecret": "gateway"}, "backendUrl": "https://backend.example/hook"}


def _values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return _merge(values, overrides)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _errors(values: dict[str, Any]) -> list[str]:
    schema = json.loads((CHART / "values.schema.json").read_text())
    found = jsonschema.Draft7Validator(schema).iter_errors(values)
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found)


def test_chart_yaml_has_the_fields_helm_requires() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == CHART.name  # helm lint: the name must match the directory
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", chart["version"])  # SemVer 2
    assert chart["type"] == "application"
    assert chart["appVersion"] == bot.__version__


def test_the_schema_is_valid_draft_7() -> None:
    jsonschema.Draft7Validator.check_schema(json.loads((CHART / "values.schema.json").read_text()))


def test_the_defaults_plus_the_secret_and_backend_are_valid() -> None:
    assert _errors(_values(**REQUIRED)) == []


def test_the_defaults_alone_name_what_is_missing() -> None:
    errors = _errors(_values())
    assert any(e.startswith("secrets:") for e in errors) and any(
        e.startswith("backendUrl:") for e in errors
    ), errors


@pytest.mark.parametrize(
    "bad",
    [
        {"replicaCount": 0},
        {"replicaCount": "2"},
        {"probes": {"readiness": {"path": "/ready"}}},
        {"settings": {"APPROVAL_GATEWAY_MASTER_KEY": "k"}},  # a secret as a plain value
        {"settings": {"LOG_LEVEL": "DEBUG"}},  # not a gateway variable
        {"secrets": {"existingSecret": "", "create": {"databaseUrl": "mysql://x"}}},
        {"replicas": 3},  # a typo for replicaCount
    ],
)
def test_the_schema_refuses_bad_values(bad: dict[str, Any]) -> None:
    assert _errors(_values(**_merge(REQUIRED, bad))) != []


def test_chart_made_secret_needs_all_three_values() -> None:
    made = {"existingSecret": "", "create": {"databaseUrl": "postgresql://u:p@db/g"}}
    assert _errors(_values(**{**REQUIRED, "secrets": made})) != []
    made["create"] |= {"masterKey": "a2V5", "backendSecret": "whsec_a2V5"}
    assert _errors(_values(**{**REQUIRED, "secrets": made})) == []


def test_every_values_path_a_template_reads_exists_in_values_yaml() -> None:
    values = _values()
    texts = [p.read_text() for p in (*TEMPLATES, CHART / "templates" / "_helpers.tpl")]
    read = {m for text in texts for m in re.findall(r"\.Values\.([A-Za-z0-9_.]+)", text)}
    assert read
    for path in read:
        node: Any = values
        for part in path.split("."):
            assert isinstance(node, dict) and part in node, f".Values.{path} is not in values.yaml"
            node = node[part]
    used_tops = {path.split(".")[0] for path in read}
    assert set(values) - used_tops == set(), "values.yaml keys no template reads"


def _skeleton(template: Path) -> dict[str, Any]:
    # Not a rendering: lines that are only a template action go, and each inline action
    # becomes a placeholder scalar, so that the YAML around them can be parsed and checked.
    lines = [
        re.sub(r"\{\{-?.*?-?\}\}", "X", line)
        for line in template.read_text().splitlines()
        if not re.fullmatch(r"\s*\{\{.*\}\}\s*", line)
    ]
    loaded: dict[str, Any] = yaml.safe_load("\n".join(lines))
    return loaded


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_each_manifest_is_a_kubernetes_object(template: Path) -> None:
    manifest = _skeleton(template)
    assert {"apiVersion", "kind", "metadata"} <= set(manifest), manifest
    assert "name" in manifest["metadata"] and "labels" in manifest["metadata"]


def test_the_deployment_probes_and_secrets() -> None:
    deployment = _skeleton(CHART / "templates" / "deployment.yaml")
    assert deployment["kind"] == "Deployment"
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["port"] == "http"
    text = (CHART / "templates" / "deployment.yaml").read_text()
    assert "path: {{ .Values.probes.liveness.path }}" in text
    assert "path: {{ .Values.probes.readiness.path }}" in text
    app_paths = {getattr(route, "path", None) for route in routes}
    probes = _values()["probes"]
    assert {probes["liveness"]["path"], probes["readiness"]["path"]} == {"/healthz", "/readyz"}
    assert {"/healthz", "/readyz"} <= app_paths
    from_secret = {e["name"] for e in container["env"] if "valueFrom" in e}
    assert from_secret == {
        "APPROVAL_GATEWAY_DATABASE_URL",
        "APPROVAL_GATEWAY_MASTER_KEY",
        "APPROVAL_GATEWAY_BACKEND_SECRET",
    }
    named = {e["name"] for e in container["env"] if e["name"] != "X"}
    fields = {f"APPROVAL_GATEWAY_{name.upper()}" for name in Settings.model_fields}
    assert named <= fields, named - fields  # every variable set is a real setting
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_pod_disruption_budget_selects_the_gateway_pods() -> None:
    pdb = _skeleton(CHART / "templates" / "pdb.yaml")
    assert pdb["kind"] == "PodDisruptionBudget" and pdb["apiVersion"] == "policy/v1"
    text = (CHART / "templates" / "pdb.yaml").read_text()
    assert 'include "approval-gateway.selectorLabels"' in text
    assert "(gt (int .Values.replicaCount) 1)" in text  # never blocks drains of one replica
