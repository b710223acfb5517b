"""Resilient client overhead: ``ServiceClient.request`` vs calling the transport directly.

The transport is an in-process fake that answers at once, so what is measured is
only the client's own work per call: resolve, power-of-two choice, breakers, retry
budget, timeout, trace header, metrics. "pool mode" is a transport that, like
``HttpPool``, times out by itself, so the client arms no timer of its own. The peer
is the bare ``transport.send`` in the same run; the difference is the overhead.
No assertions: figures only.

    .venv/bin/python benchmarks/client_overhead.py [--calls 50000] [--rounds 3] [--no-uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping

from matinee.platform.discovery import Instance
from matinee.platform.http import CallPolicy, Response, ServiceClient
from matinee.platform.telemetry import Metrics
from matinee.platform.telemetry.tracing import TraceContext, reset_current, set_current

BODY = b'{"id": 1, "title": "Heat"}'


class InstantTransport:
    """Answers every request at once with the same small JSON body; the client arms a timer."""

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,  # noqa: ASYNC109
    ) -> Response:
        return Response(200, {"content-type": "application/json"}, BODY)


class TimedTransport(InstantTransport):
    """The same, declaring it times out by itself (as HttpPool does through aiohttp)."""

    enforces_timeout = True


class Fleet:
    def __init__(self, n: int) -> None:
        self._instances = [
            Instance("catalog", f"catalog-{i}", "127.0.0.1", 9000 + i) for i in range(n)
        ]

    def instances(self, service: str) -> list[Instance]:
        return self._instances


def make_client(instances: int, transport: InstantTransport | None = None) -> ServiceClient:
    return ServiceClient(
        "catalog",
        resolver=Fleet(instances),
        transport=transport or InstantTransport(),
        metrics=Metrics(),
        policy=CallPolicy(timeout=1.0),
        rng=random.Random(1),
    )


async def sequential(call: Callable[[], Awaitable[object]], calls: int) -> float:
    """Return microseconds per call for ``calls`` calls one after another."""
    start = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - start) / calls * 1e6


async def concurrent(call: Callable[[], Awaitable[object]], calls: int, tasks: int) -> float:
    """Return microseconds per call with ``tasks`` tasks calling side by side."""
    per_task = calls // tasks

    async def worker() -> None:
        for _ in range(per_task):
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return (time.perf_counter() - start) / (per_task * tasks) * 1e6


async def run(calls: int, rounds: int) -> list[tuple[str, float]]:
    transport = InstantTransport()
    one, three = make_client(1), make_client(3)
    trusted = make_client(3, TimedTransport())
    empty: dict[str, str] = {}

    def bare() -> Awaitable[Response]:
        return transport.send("GET", "http://127.0.0.1:9000/titles/1", headers=empty, body=None,
                              timeout=1.0)  # fmt: skip

    async def bare_with_timeout() -> Response:
        async with asyncio.timeout(1.0):
            return await bare()

    def get(client: ServiceClient) -> Callable[[], Awaitable[Response]]:
        return lambda: client.request("GET", "/t/1")

    scenarios: list[tuple[str, Callable[[], Awaitable[float]]]] = [
        ("bare transport.send (peer)", lambda: sequential(bare, calls)),
        ("bare send + asyncio.timeout", lambda: sequential(bare_with_timeout, calls)),
        ("client.request, 1 instance", lambda: sequential(get(one), calls)),
        ("client.request, 3 instances", lambda: sequential(get(three), calls)),
        ("client.request, 3 inst, pool mode", lambda: sequential(get(trusted), calls)),
        ("client.get_json, 3 instances", lambda: sequential(lambda: three.get_json("/t/1"), calls)),
        ("bare send, 100 tasks", lambda: concurrent(bare, calls, 100)),
        ("client.request, 3 inst, 100 tasks", lambda: concurrent(get(three), calls, 100)),
        ("client.request, pool mode, 100 tasks", lambda: concurrent(get(trusted), calls, 100)),
    ]  # fmt: skip
    results: list[tuple[str, float]] = []
    for name, scenario in scenarios:
        await scenario()  # warm up
        results.append((name, min([await scenario() for _ in range(rounds)])))

    token = set_current(TraceContext.new())
    try:
        await sequential(lambda: three.request("GET", "/t/1"), calls)
        best = min([await sequential(lambda: three.request("GET", "/t/1"), calls)
                    for _ in range(rounds)])  # fmt: skip
    finally:
        reset_current(token)
    results.insert(5, ("client.request, 3 inst, traced", best))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args()
    loop_name = "asyncio"
    runner: Callable[..., object] = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop

            runner, loop_name = uvloop.run, "uvloop"
        except ImportError:
            pass
    results = runner(run(args.calls, args.rounds))
    assert isinstance(results, list)
    peer = dict(results)
    print(f"client overhead ({loop_name}, {args.calls} calls, best of {args.rounds})")
    print(f"{'scenario':<36} {'us/call':>9} {'overhead us':>12}")
    for name, us in results:
        base = peer["bare send, 100 tasks"] if "100 tasks" in name else peer[
            "bare transport.send (peer)"]  # fmt: skip
        print(f"{name:<36} {us:>9.2f} {us - base:>12.2f}")


if __name__ == "__main__":
    main()
