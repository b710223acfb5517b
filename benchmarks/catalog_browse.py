"""Catalog at scale: seed the 58,788-title catalog, then time genre browsing.

Claims (issue 3): seeding the large catalog (batches of 1,000, one transaction each,
one JetStream event per title) takes reasonable time, and ``GET /genres/{id}/titles``
stays fast at that size in every sort order, deep pages and maturity filters included.
One catalog process (uvicorn, SQLite by default or ``--database-url``), a JetStream
nats-server from the wheel, requests from this process at one connection.

    .venv/bin/python benchmarks/catalog_browse.py [--catalog large] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _load


async def run(args: argparse.Namespace) -> None:
    from matinee.platform.discovery import Instance, StaticDiscovery
    from matinee.platform.events import nats_server_command, wait_for_nats
    from matinee.platform.http import HttpPool, ServiceClient
    from matinee.platform.identity import Identity, IdentitySigner, set_fallback_identity
    from matinee.seed.datasets import load_catalog
    from matinee.seed.run import seed_catalog
    from matinee.services.catalog.client import CatalogClient

    secret = "bench-internal-secret"
    signer = IdentitySigner(secret, service="bench")
    set_fallback_identity(lambda: signer.sign(Identity.of_service("bench")))
    with tempfile.TemporaryDirectory(prefix="matinee-bench-") as tmp:
        nats_port, port = _load.free_port(), _load.free_port()
        nats = _load.serve(nats_server_command(nats_port, Path(tmp) / "nats"))
        wait_for_nats(nats_port, timeout=15)
        env = {
            **os.environ,
            "MATINEE_DATA_DIR": tmp,
            "MATINEE_PORT": str(port),
            "MATINEE_NATS_URL": f"nats://127.0.0.1:{nats_port}",
            "MATINEE_REGISTRY_URL": "http://127.0.0.1:9/eureka",  # none: fixed address below
            "MATINEE_INTERNAL_SECRET": secret,
            "MATINEE_LOG_LEVEL": "WARNING",
        }
        if args.database_url:
            env["MATINEE_CATALOG_DATABASE_URL"] = args.database_url
        catalog_proc = _load.serve([sys.executable, "-m", "matinee.runner", "catalog"], env)
        try:
            _load.wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
            async with HttpPool() as pool:
                resolver = StaticDiscovery([Instance("catalog", "c1", "127.0.0.1", port)])
                http = ServiceClient("catalog", resolver=resolver, transport=pool)
                catalog = CatalogClient(http)
                dataset = load_catalog(args.catalog)
                started = time.perf_counter()
                report = await seed_catalog(catalog, dataset)
                took = time.perf_counter() - started
                print(
                    f"seed {args.catalog}: {report.titles:,} titles and {len(report.lists)}"
                    f" lists in {took:.1f} s ({report.titles / took:,.0f} titles/s,"
                    " events included)"
                )
                genres = sorted(await catalog.genres(), key=lambda g: -g.title_count)
                biggest = genres[0]
                print(f"largest genre: {biggest.name} ({biggest.title_count:,} titles)")
                last_page = max(1, -(-biggest.title_count // 20))
                cases = [
                    ("popularity, page 1", {"sort": "popularity"}),
                    ("year, page 1", {"sort": "year"}),
                    ("title, page 1", {"sort": "title"}),
                    ("popularity, page 50", {"sort": "popularity", "page": 50}),
                    ("title, last page", {"sort": "title", "page": last_page}),
                    ("popularity, kids", {"sort": "popularity", "max_maturity": "kids"}),
                    ("year, teen", {"sort": "year", "max_maturity": "teen"}),
                ]
                print(f"GET /genres/{biggest.id}/titles (page_size 20), {args.requests} requests:")
                for label, params in cases:
                    times = []
                    for _ in range(args.requests):
                        t0 = time.perf_counter()
                        response = await http.request(
                            "GET", f"/genres/{biggest.id}/titles", params=params
                        )
                        times.append(time.perf_counter() - t0)
                        assert response.status == 200, response.text()
                    times.sort()
                    p50 = statistics.median(times) * 1000
                    p99 = times[int(len(times) * 0.99) - 1] * 1000
                    print(f"  {label:<22} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
                t0 = time.perf_counter()
                for _ in range(20):
                    await catalog.genres()
                print(f"GET /genres: {(time.perf_counter() - t0) / 20 * 1000:.2f} ms")
        finally:
            _load.stop(catalog_proc)
            _load.stop(nats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", choices=("small", "large"), default="large")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default="", help="PostgreSQL instead of SQLite")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
