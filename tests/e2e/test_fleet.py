"""``matinee up``, status, scale, restart and down on the real fleet of OS processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.request
from pathlib import Path

import psutil
import pytest

from matinee.supervisor import discover_services, free_port
from tests.e2e.conftest import Fleet, kill_leftovers, start_fleet, stop_fleet

pytestmark = pytest.mark.e2e

REQUIRED = {"service", "instance_id", "version", "url", "pid", "status"}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=5) as response:
        return int(response.status), response.read()


def test_up_detach_brings_every_instance_up(fleet: Fleet) -> None:
    assert fleet.up.returncode == 0
    assert "Matinee is up" in fleet.up.stdout
    assert fleet.gateway_url in fleet.up.stdout
    rows = fleet.status()
    for row in rows:
        assert row.keys() >= REQUIRED
        assert row["status"] == "UP", row
        assert _alive(row["pid"]), row
    services = {row["service"] for row in rows}
    for spec in discover_services():
        assert spec.name in services
        if spec.on_play_path:
            assert sum(r["service"] == spec.name for r in rows) >= 2
    # Two registry peers, on their own ports, each listed (by the other's replication too).
    registries = sorted(
        (r for r in rows if r["service"] == "registry"), key=lambda r: r["instance_id"]
    )
    assert [r["instance_id"] for r in registries] == ["registry-1", "registry-2"]
    assert [r["url"] + "/eureka" for r in registries] == fleet.registry_urls
    assert "nats" in services  # the fleet's own nats-server, not the system one


def test_registry_and_gateway_answer_where_up_said(fleet: Fleet) -> None:
    assert len(fleet.registry_urls) == 2
    listed = []
    for url in fleet.registry_urls:
        status, body = _get(url + "/apps")
        assert status == 200
        apps = json.loads(body)["applications"]["application"]
        assert {"registry", "catalog", "gateway"} <= {app["name"].lower() for app in apps}
        listed.append({i["instanceId"] for app in apps for i in app["instance"]})
    assert listed[0] == listed[1]  # peers: both hold the whole fleet
    assert _get(fleet.gateway_url + "/healthz")[0] == 200


def test_a_second_up_on_the_same_data_dir_refuses(fleet: Fleet) -> None:
    for extra in (["--detach"], []):
        done = fleet.cli("up", *extra, timeout=30)
        assert done.returncode != 0
        assert f"a fleet is already running on {fleet.data_dir}" in done.stderr
        assert "matinee down" in done.stderr
    assert all(row["status"] == "UP" for row in fleet.status())


def test_scale_catalog_to_three_and_back(fleet: Fleet) -> None:
    done = fleet.cli("scale", "catalog", "3")
    assert done.returncode == 0, done.stderr
    rows = fleet.status()
    catalog = [r for r in rows if r["service"] == "catalog"]
    assert len(catalog) == 3
    assert all(r["status"] == "UP" and _alive(r["pid"]) for r in catalog)
    done = fleet.cli("scale", "catalog", "2")
    assert done.returncode == 0, done.stderr
    assert sum(r["service"] == "catalog" for r in fleet.status()) == 2


def test_scale_refuses_an_unknown_service(fleet: Fleet) -> None:
    done = fleet.cli("scale", "nonesuch", "2")
    assert done.returncode != 0
    assert "unknown service 'nonesuch'" in done.stderr


def test_a_killed_instance_is_restarted(fleet: Fleet) -> None:
    victim = next(r for r in fleet.status() if r["service"] == "catalog")
    os.kill(victim["pid"], signal.SIGKILL)

    def replaced(rows: list[dict[str, object]]) -> bool:
        row = next(r for r in rows if r["instance_id"] == victim["instance_id"])
        return row["pid"] not in (None, victim["pid"]) and row["status"] == "UP"

    rows = fleet.wait_for(replaced)
    row = next(r for r in rows if r["instance_id"] == victim["instance_id"])
    assert _alive(int(row["pid"]))
    assert row["restarts"] >= 1


def test_logs_show_each_instance_prefixed(fleet: Fleet) -> None:
    done = fleet.cli("logs", "catalog", "-n", "3")
    assert done.returncode == 0, done.stderr
    assert any(line.startswith("catalog-1") for line in done.stdout.splitlines())


def test_down_leaves_no_process_behind(fleet: Fleet) -> None:
    pids = fleet.pids()
    assert len(pids) >= 6
    done = fleet.cli("down")
    assert done.returncode == 0, done.stderr
    assert [pid for pid in pids if _alive(pid)] == []
    assert kill_leftovers(fleet.data_dir) == []
    done = fleet.cli("status")
    assert done.returncode == 1
    assert "no fleet is running" in done.stderr


def test_taken_ports_are_never_fatal(tmp_path: Path) -> None:
    with socket.socket() as gateway_squatter, socket.socket() as registry_squatter:
        gateway_squatter.bind(("127.0.0.1", free_port()))
        gateway_squatter.listen()
        registry_squatter.bind(("127.0.0.1", free_port()))
        registry_squatter.listen()
        taken_gateway = gateway_squatter.getsockname()[1]
        taken_registry = registry_squatter.getsockname()[1]
        fleet = start_fleet(tmp_path.resolve(), taken_gateway, taken_registry)
        try:
            assert "WARNING" in fleet.up.stderr
            assert f"port {taken_gateway} for gateway is taken" in fleet.up.stderr
            assert fleet.gateway_url != f"http://127.0.0.1:{taken_gateway}"
            assert str(taken_registry) not in fleet.registry_url
            assert all(row["status"] == "UP" for row in fleet.status())
            assert _get(fleet.gateway_url + "/healthz")[0] == 200
        finally:
            stop_fleet(fleet)
