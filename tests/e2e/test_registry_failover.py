"""A registry peer dies (or hangs) in a running fleet: new instances still reach the gateway.

Every instance knows both registries. With the one they prefer gone, a catalog
instance scaled up now registers with the other, the gateway learns of it from the
other, and users' requests reach it. The dead registry, restarted by the supervisor,
answers with what its peer holds.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request

import httpx
import orjson
import pytest

from tests.e2e.conftest import Fleet, Rows

pytestmark = pytest.mark.e2e

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str, timeout: float = 3.0) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with _OPENER.open(request, timeout=timeout) as resp:
        return bytes(resp.read())


def listed(registry_url: str) -> set[str]:
    doc = orjson.loads(_get(registry_url + "/apps"))["applications"]
    return {i["instanceId"] for app in doc["application"] for i in app["instance"]}


def row(rows: Rows, instance_id: str) -> dict[str, object]:
    return next((r for r in rows if r["instance_id"] == instance_id), {})


def served_genres(instance_url: str) -> float:
    """Return how many ``GET /genres`` the instance answered (its own metrics)."""
    text = _get(instance_url + "/metrics").decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("http_server_request_duration_seconds_count{")
        and 'route="/genres"' in line
    )


def bearer(fleet: Fleet, email: str) -> dict[str, str]:
    credentials = {"email": email, "password": "correct horse battery"}
    signup = httpx.post(f"{fleet.gateway_url}/api/auth/signup", json=credentials, timeout=10)
    assert signup.status_code == 201, signup.text
    return {"authorization": f"Bearer {signup.json()['access_token']}"}


def reaches_through_the_gateway(fleet: Fleet, headers: dict[str, str], instance_url: str) -> None:
    """Send users' requests through the edge until ``instance_url`` has served some."""
    before = served_genres(instance_url)
    deadline = time.monotonic() + 45
    with httpx.Client(timeout=10, headers=headers) as http:
        while served_genres(instance_url) <= before:
            assert time.monotonic() < deadline, "the gateway never sent traffic to the new instance"
            for _ in range(10):
                assert http.get(f"{fleet.gateway_url}/api/genres").status_code == 200
            time.sleep(0.5)


def test_kill_9_the_preferred_registry_and_scale(fleet: Fleet) -> None:
    rows = fleet.wait_for(lambda rs: all(r["status"] == "UP" for r in rs))
    first = row(rows, "registry-1")
    assert row(rows, "registry-2")["status"] == "UP"
    assert fleet.registry_urls[0].startswith(str(first["url"]))
    headers = bearer(fleet, "registry-kill@matinee.test")

    os.kill(int(first["pid"]), signal.SIGKILL)  # type: ignore[call-overload]
    done = fleet.cli("scale", "catalog", "3")
    assert done.returncode == 0, done.stderr
    rows = fleet.wait_for(lambda rs: row(rs, "catalog-3").get("status") == "UP")
    reaches_through_the_gateway(fleet, headers, str(row(rows, "catalog-3")["url"]))

    # The supervisor restarted registry-1 on its port; it took the fleet from its peer.
    rows = fleet.wait_for(
        lambda rs: (
            row(rs, "registry-1").get("status") == "UP"
            and row(rs, "registry-1").get("pid") != first["pid"]
        )
    )
    assert "catalog-3" in listed(fleet.registry_urls[0])
    assert listed(fleet.registry_urls[0]) == listed(fleet.registry_urls[1])


def test_a_hung_registry_is_timed_out_and_routed_around(fleet: Fleet) -> None:
    rows = fleet.wait_for(lambda rs: all(r["status"] == "UP" for r in rs))
    first = row(rows, "registry-1")
    headers = bearer(fleet, "registry-hang@matinee.test")
    # SIGSTOP: the port still accepts connections but nothing answers, and the
    # supervisor sees no exit to act on; clients must time out and move on.
    os.kill(int(first["pid"]), signal.SIGSTOP)  # type: ignore[call-overload]
    try:
        count = sum(r["service"] == "catalog" for r in rows)
        new_id = f"catalog-{count + 1}"
        done = fleet.cli("scale", "catalog", str(count + 1))
        assert done.returncode == 0, done.stderr
        rows = fleet.wait_for(lambda rs: row(rs, new_id).get("status") == "UP", timeout=90)
        reaches_through_the_gateway(fleet, headers, str(row(rows, new_id)["url"]))
    finally:
        os.kill(int(first["pid"]), signal.SIGCONT)  # type: ignore[call-overload]
    # Back, registry-1 is sent what it missed by its peer.
    deadline = time.monotonic() + 30
    while new_id not in listed(fleet.registry_urls[0]):
        assert time.monotonic() < deadline, "registry-1 never learned of the new instance"
        time.sleep(0.5)
