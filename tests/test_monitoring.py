"""The monitoring kit holds together without Docker (issue 21): compose.yaml's `monitoring`
profile starts Prometheus and Grafana from files that exist, wired to each other and to
drawdown by the names and ports compose gives them; the Grafana dashboard is valid JSON
whose every expression names metrics drawdown exports; the README's metrics table lists
exactly what `/metrics` exports; the dashboard's picture is in the docs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from drawdown.services import telemetry
from support.contexts import make_context

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DASHBOARD = json.loads((ROOT / "deploy/grafana/drawdown.json").read_text())
README = (ROOT / "README.md").read_text()
METRIC = re.compile(r"\bdrawdown_[a-z0-9_]+")


def _mounts(service: str) -> dict[str, str]:
    """Container path -> host source of a service's volumes."""
    found = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        found[target] = source
    return found


def _host_file(service: str, container_path: str) -> Path:
    """The repository file mounted at `container_path`, or inside a mounted folder."""
    for target, source in _mounts(service).items():
        if container_path == target or container_path.startswith(target + "/"):
            assert source.startswith("./"), f"{container_path} is not a repository file"
            return ROOT / source / Path(container_path).relative_to(target)
    raise AssertionError(f"{service} mounts nothing at {container_path}")


def test_the_monitoring_profile_adds_prometheus_and_grafana_only() -> None:
    assert SERVICES["prometheus"]["profiles"] == ["monitoring"]
    assert SERVICES["grafana"]["profiles"] == ["monitoring"]
    for plain in ("postgres", "drawdown"):  # `docker compose up` still starts just these
        assert "profiles" not in SERVICES[plain]
    for name, service in SERVICES.items():
        for needed in service.get("depends_on", []):
            assert needed in SERVICES, f"{name} depends on unknown service {needed}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in COMPOSE["volumes"], f"{name} uses undeclared volume {source}"


def _published(service: str) -> set[int]:
    return {int(str(port).rsplit(":", 1)[1]) for port in SERVICES[service].get("ports", [])}


def test_prometheus_scrapes_drawdown_where_compose_runs_it() -> None:
    command = SERVICES["prometheus"]["command"]
    config_path = next(c.split("=", 1)[1] for c in command if c.startswith("--config.file="))
    config = yaml.safe_load(_host_file("prometheus", config_path).read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    [target] = [t for group in job["static_configs"] for t in group["targets"]]
    host, port = target.split(":")
    assert host in SERVICES and int(port) in _published(host)


def test_grafana_gets_prometheus_and_the_dashboard_provisioned() -> None:
    provisioning = _host_file("grafana", "/etc/grafana/provisioning")
    [source] = yaml.safe_load((provisioning / "datasources/prometheus.yaml").read_text())[
        "datasources"
    ]
    address = urlsplit(source["url"])
    assert source["type"] == "prometheus" and source["isDefault"] is True
    assert address.hostname == "prometheus" and address.port in _published("prometheus")
    [provider] = yaml.safe_load((provisioning / "dashboards/drawdown.yaml").read_text())[
        "providers"
    ]
    folder = provider["options"]["path"]
    assert _host_file("grafana", f"{folder}/drawdown.json").samefile(
        ROOT / "deploy/grafana/drawdown.json"
    )
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert _host_file("grafana", home).samefile(ROOT / "deploy/grafana/drawdown.json")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every drawdown_* metric `/metrics` exports (the backlog gauges included): exposed
    name -> type, and every sample name an expression may use."""
    database = tmp_path_factory.mktemp("monitoring") / "drawdown.db"
    ctx = make_context(f"sqlite:///{database}")
    try:
        text = telemetry.exposition(telemetry.BacklogGauges(ctx)).decode()
    finally:
        ctx.keys.stop()
        ctx.db.close()
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("drawdown_"):
            found[family.name + ("_total" if family.type == "counter" else "")] = family.type
    return found


def _samples(exported: dict[str, str]) -> set[str]:
    names = set(exported)
    for name, kind in exported.items():
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def _panels() -> list[dict[str, Any]]:
    return [p for p in DASHBOARD["panels"] if p["type"] != "row"]


def test_every_dashboard_expression_names_metrics_drawdown_exports(
    exported: dict[str, str],
) -> None:
    samples = _samples(exported)
    used = set()
    for panel in _panels():
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(METRIC.findall(target["expr"]))
            assert names and names <= samples, (panel["title"], names - samples)
            used |= names
    assert [v["name"] for v in DASHBOARD["templating"]["list"]] == ["datasource"]
    background = {name for name in exported if "webhook" in name or "usage" in name
                  or "expir" in name}  # fmt: skip
    assert background <= {re.sub(r"_(bucket|sum|count)$", "", n) for n in used} | used


def test_the_dashboard_layout_is_a_grid_without_overlaps() -> None:
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids)) and DASHBOARD["uid"] == "drawdown"
    cells: set[tuple[int, int]] = set()
    for panel in DASHBOARD["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        taken = {
            (grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])
        }
        assert not cells & taken, panel["title"]
        cells |= taken


def test_the_readme_metrics_table_is_what_metrics_exports(exported: dict[str, str]) -> None:
    listed = set(re.findall(r"^\| `(drawdown_[a-z0-9_]+)`", README, re.M))
    assert listed == set(exported)


def test_the_dashboard_picture_is_in_the_docs() -> None:
    picture = ROOT / "docs/images/dashboard.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "docs/images/dashboard.png" in README
