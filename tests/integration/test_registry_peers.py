"""Two real registry processes, each the other's peer; clients given both URLs.

Register on one, see it on the other; kill -9 one and clients keep registering and
resolving through the other; a restarted registry answers with what its peer holds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from matinee.platform.discovery import Instance, RegistryDiscovery
from tests.conftest import free_port

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with _OPENER.open(request, timeout=2) as resp:
        return bytes(resp.read())


def _listed(url: str) -> set[str]:
    doc = orjson.loads(_get(url + "/apps"))["applications"]
    return {i["instanceId"] for app in doc["application"] for i in app["instance"]}


class Registry:
    """One registry process on a fixed port, restartable."""

    def __init__(self, name: str, port: int, peers: str, root: Path) -> None:
        self.name, self.port, self.peers, self.root = name, port, peers, root
        self.url = f"http://127.0.0.1:{port}/eureka"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "MATINEE_PORT": str(self.port),
            "MATINEE_DATA_DIR": str(self.root / self.name),
            "MATINEE_INSTANCE_ID": self.name,
            "MATINEE_REGISTRY_PEERS": self.peers,
            "MATINEE_REGISTRY_PEER_RETRY_INTERVAL": "0.5",
        }
        log = open(self.root / f"{self.name}.log", "ab")  # noqa: SIM115 - the child holds it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "matinee.runner", "registry"], env=env, stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.root / f"{self.name}.log").read_text()
            try:
                _get(f"http://127.0.0.1:{self.port}/healthz")
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"{self.name} did not come up")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def pair(root: Path) -> Iterator[tuple[Registry, Registry]]:
    p1, p2 = free_port(), free_port()
    one = Registry("registry-1", p1, f"http://127.0.0.1:{p2}/eureka", root)
    two = Registry("registry-2", p2, f"http://127.0.0.1:{p1}/eureka", root)
    try:
        one.start()
        two.start()
        yield one, two
    finally:
        one.stop()
        two.stop()


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.05)


def catalog(n: int) -> Instance:
    return Instance("catalog", f"catalog-{n}", "127.0.0.1", 9000 + n)


async def test_registered_at_one_registry_listed_by_the_other(tmp_path: Path) -> None:
    with pair(tmp_path) as (one, two):
        member = RegistryDiscovery(one.url, background=False)
        await member.start(catalog(1))
        assert member.registered
        try:
            await eventually(lambda: "catalog-1" in _listed(two.url))
            # Both registries list both registries: each replicated its own record.
            await eventually(lambda: {"registry-1", "registry-2"} <= _listed(two.url))
            assert {"registry-1", "registry-2"} <= _listed(one.url)
        finally:
            await member.stop()
        await eventually(lambda: "catalog-1" not in _listed(two.url))


async def test_kill_one_registry_clients_fail_over_and_a_restart_syncs(tmp_path: Path) -> None:
    with pair(tmp_path) as (one, two):
        both = f"{one.url},{two.url}"
        first = RegistryDiscovery(both, background=False, failback_after=1.0)
        await first.start(catalog(1))
        assert first.registry_url == one.url
        await eventually(lambda: "catalog-1" in _listed(two.url))

        one.kill()  # kill -9: no goodbye, its port refuses from now on
        assert await first.renew()  # the heartbeat went to registry-2
        assert first.registry_url == two.url
        late = RegistryDiscovery(both, background=False)
        await late.start(catalog(2))  # a new instance still gets registered...
        assert late.registered
        assert await first.refresh()  # ...and resolved
        assert {i.instance_id for i in first.instances("catalog")} == {"catalog-1", "catalog-2"}

        one.start()  # back on its port, with its old snapshot: it syncs from registry-2
        # Its very first answer to a client holds the instance registered while it was dead.
        assert {"catalog-1", "catalog-2"} <= _listed(one.url)
        metrics = _get(f"http://127.0.0.1:{one.port}/metrics").decode()
        assert 'matinee_registry_peer_syncs_total{result="ok"} 1.0' in metrics

        await asyncio.sleep(1.1)  # failback_after: the client tries the first again
        assert await first.renew()
        assert first.registry_url == one.url
        await late.stop()
        await first.stop()
        await eventually(lambda: not {"catalog-1", "catalog-2"} & _listed(one.url))
        await eventually(lambda: not {"catalog-1", "catalog-2"} & _listed(two.url))


async def test_a_foreign_eureka_clients_registration_is_replicated(tmp_path: Path) -> None:
    from py_eureka_client.eureka_client import EurekaClient

    with pair(tmp_path) as (one, two):
        legacy = EurekaClient(
            eureka_server=one.url,
            app_name="legacy-billing",
            instance_id="legacy-billing-1",
            instance_host="127.0.0.1",
            instance_ip="127.0.0.1",
            instance_port=7070,
            should_discover=False,
        )
        await legacy.start()
        try:
            await eventually(lambda: "legacy-billing-1" in _listed(two.url))
            reader = RegistryDiscovery(two.url, background=False)
            await reader.start(None)
            [found] = reader.instances("legacy-billing")
            assert (found.host, found.port) == ("127.0.0.1", 7070)
            await reader.stop()
        finally:
            await legacy.stop()
        await eventually(lambda: "legacy-billing-1" not in _listed(two.url))
