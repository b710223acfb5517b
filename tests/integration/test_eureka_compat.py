"""Existing Eureka clients against the real registry process.

py-eureka-client registers a non-Matinee app that Matinee's discovery resolves,
and Prometheus's ``eureka_sd_configs`` discovers Matinee instances.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from matinee.platform.discovery import Instance, RegistryDiscovery
from tests.conftest import free_port


def _wait_http(url: str, proc: subprocess.Popen[bytes], deadline_s: float = 20.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def registry_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "MATINEE_PORT": str(port),
        "MATINEE_DATA_DIR": str(tmp_path / "data"),
        "MATINEE_INSTANCE_ID": "registry-it",
    }
    log = open(tmp_path / "registry.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "matinee.runner", "registry"], env=env, stdout=log, stderr=log
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        yield f"http://127.0.0.1:{port}/eureka"
    finally:
        _stop(proc)
        log.close()


async def test_py_eureka_client_app_is_resolved_by_matinee_discovery(registry_url: str) -> None:
    from py_eureka_client.eureka_client import EurekaClient

    legacy = EurekaClient(
        eureka_server=registry_url,
        app_name="legacy-billing",
        instance_id="legacy-billing-1",
        instance_host="127.0.0.1",
        instance_ip="127.0.0.1",
        instance_port=7070,
        should_discover=True,
    )
    await legacy.start()
    discovery = RegistryDiscovery(registry_url, background=False)
    try:
        await discovery.start(None)
        [found] = discovery.instances("legacy-billing")
        assert (found.instance_id, found.host, found.port) == (
            "legacy-billing-1",
            "127.0.0.1",
            7070,
        )
        # And py-eureka-client reads our XML: it sees the registry itself.
        assert legacy.applications.get_application("REGISTRY").up_instances
    finally:
        await legacy.stop()
        await discovery.stop()
    # Its cancel on stop removed it from the registry.
    after = RegistryDiscovery(registry_url, background=False)
    await after.start(None)
    assert after.instances("legacy-billing") == ()
    await after.stop()


async def test_prometheus_eureka_sd_discovers_matinee_instances(
    registry_url: str, tmp_path: Path
) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus; CI installs it)")
    catalog = Instance("catalog", "catalog-it-1", "127.0.0.1", free_port(), version="9.9.9")
    member = RegistryDiscovery(registry_url, background=False)
    await member.start(catalog)
    assert member.registered
    try:
        seen = await asyncio.to_thread(
            _prometheus_targets, binary, registry_url, tmp_path, {"catalog-it-1", "registry-it"}
        )
    finally:
        await member.stop()
    assert {"catalog-it-1", "registry-it"} <= seen.keys()
    labels = seen["catalog-it-1"]
    assert labels["__meta_eureka_app_name"] == "CATALOG"
    assert labels["__address__"] == f"127.0.0.1:{catalog.port}"
    assert labels["__meta_eureka_app_instance_metadata_version"] == "9.9.9"


def _prometheus_targets(
    binary: str, registry_url: str, tmp_path: Path, want: set[str]
) -> dict[str, dict[str, str]]:
    """Run Prometheus on the registry; return discovered labels by Eureka instance id."""
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 2s\n"
        "scrape_configs:\n"
        "  - job_name: matinee\n"
        "    eureka_sd_configs:\n"
        f"      - server: {registry_url}\n"
        "        refresh_interval: 1s\n"
    )
    port = free_port()
    with open(tmp_path / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            _wait_http(f"http://127.0.0.1:{port}/-/ready", proc, 30.0)
            seen: dict[str, dict[str, str]] = {}
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and not want <= seen.keys():
                url = f"http://127.0.0.1:{port}/api/v1/targets"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    targets = orjson.loads(resp.read())["data"]["activeTargets"]
                seen = {
                    t["discoveredLabels"]["__meta_eureka_app_instance_id"]: t["discoveredLabels"]
                    for t in targets
                }
                time.sleep(0.5)
            return seen
        finally:
            _stop(proc)
