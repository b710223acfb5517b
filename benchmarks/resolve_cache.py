"""Claim: resolving a service from the discovery client's cache takes under 5 microseconds.

Peer, same run: py-eureka-client's own cached lookup (``Applications.get_application(
name).up_instances``), the Python Eureka client people use today.

    .venv/bin/python benchmarks/resolve_cache.py [--calls N]

The fleet: 15 services x 3 instances, one per service OUT_OF_SERVICE. Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import timeit

import orjson

from matinee.platform.discovery import (
    Instance,
    RegistryDiscovery,
    Status,
    apps_hashcode,
    eureka_registration,
)
from matinee.platform.http import Response

SERVICES = [f"service{n:02d}" for n in range(14)] + ["catalog"]


def fleet() -> list[Instance]:
    return [
        Instance(
            s, f"{s}-{i}", "127.0.0.1", 9000 + i,
            status=Status.OUT_OF_SERVICE if i == 2 else Status.UP,
        )
        for s in SERVICES
        for i in range(3)
    ]  # fmt: skip


class OneShot:
    """Serves one full registry document, like the registry's GET /eureka/apps."""

    def __init__(self, instances: list[Instance]) -> None:
        apps: dict[str, list[object]] = {}
        for inst in instances:
            apps.setdefault(inst.service.upper(), []).append(eureka_registration(inst)["instance"])
        self.body = orjson.dumps(
            {
                "applications": {
                    "versions__delta": "1",
                    "apps__hashcode": apps_hashcode(instances),
                    "application": [{"name": k, "instance": v} for k, v in apps.items()],
                }
            }
        )

    async def send(self, method: str, url: str, **kw: object) -> Response:
        return Response(200, {}, self.body)


def matinee_resolver(instances: list[Instance]) -> RegistryDiscovery:
    d = RegistryDiscovery("http://r/eureka", transport=OneShot(instances), background=False)
    asyncio.run(d.start(None))
    assert len(d.instances("catalog")) == 2
    return d


def peer_applications(instances: list[Instance]) -> object:
    from py_eureka_client import eureka_basic as eb

    apps = eb.Applications()
    for service in SERVICES:
        app = eb.Application(name=service.upper())
        for inst in instances:
            if inst.service == service:
                app.add_instance(
                    eb.Instance(
                        instanceId=inst.instance_id,
                        app=service.upper(),
                        ipAddr=inst.host,
                        hostName=inst.host,
                        status=inst.status.value,
                        port=eb.PortWrapper(inst.port, True),
                    )
                )
        apps.add_application(app)
    assert len(apps.get_application("CATALOG").up_instances) == 2
    return apps


def per_call_us(stmt: str, env: dict[str, object], calls: int) -> float:
    best = min(timeit.repeat(stmt, globals=env, number=calls, repeat=5))
    return best / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    instances = fleet()
    d = matinee_resolver(instances)
    peer = peer_applications(instances)
    rows = [
        ("matinee RegistryDiscovery.instances('catalog')", "d.instances('catalog')"),
        ("matinee, upper-case name ('CATALOG')", "d.instances('CATALOG')"),
        ("matinee, unknown service", "d.instances('nope')"),
        (
            "py-eureka-client get_application('CATALOG').up_instances",
            "peer.get_application('CATALOG').up_instances",
        ),
    ]
    env = {"d": d, "peer": peer}
    print(
        f"resolve from the client cache ({len(instances)} instances, {args.calls} calls, best of 5)"
    )
    print(f"| {'lookup':<58} | {'us/call':>8} |")
    print(f"|{'-' * 60}|{'-' * 10}|")
    for name, stmt in rows:
        print(f"| {name:<58} | {per_call_us(stmt, env, args.calls):>8.3f} |")
    print("claim: matinee lookup < 5 us")


if __name__ == "__main__":
    main()
