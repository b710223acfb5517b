"""The edge vs nginx ``proxy_pass``: ``GET /api/titles/{id}`` with authentication on.

Claims (issue 3), same machine, same run, one worker each (nginx ``worker_processes 1``,
one gateway process, one catalog process), wrk keep-alive:

1. through the gateway, at least 0.5x nginx's requests/s in front of the same catalog
   instance (wrk -c50);
2. at most 0.1 ms added to p50 over calling catalog directly at one connection.

The gateway runs its full chain: route table, request id, trace context, per-IP and
per-account token buckets (scaled up so that the verdict is always "allow", but still
computed), a bearer token checked against users' JWKS (cached after the first
verification), the signed identity header, security headers, metrics. nginx only
adds the identity header (a fixed, long-lived one) that catalog requires.

Catalog (Starlette on uvicorn, title documents from its read-through cache) is the
bottleneck of the first claim, so the proxies are also measured in front of a fixed
1 KB upstream (nginx serving a static file, a worker of its own): that is the proxy
overhead the issue's figures describe.

Every target runs once per round (c50, then c1), rounds one after another; the table
shows medians over rounds, and each ratio is the median of the per-round ratios (a
gateway run and its nginx peer run within seconds of each other, so a burst of load
from something else on the machine moves both).

    .venv/bin/python benchmarks/gateway_vs_nginx.py [--seconds 8] [--rounds 3]

Needs wrk and nginx (``apt-get install -y wrk nginx``); Debian's nginx service is not
used: each nginx here runs from its own config in a temp dir on a free port.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import _load

SECRET = "bench-internal-secret"
TITLE_ID = 1


def serve_catalog(port: int, data_dir: str) -> None:
    """Run one catalog instance (uvicorn, uvloop, httptools), no registry."""
    import uvicorn

    from matinee.platform.discovery import StaticDiscovery
    from matinee.services.catalog.app import create_app
    from matinee.services.catalog.settings import CatalogSettings

    settings = CatalogSettings(data_dir=Path(data_dir), port=port, internal_secret=SECRET)
    app = create_app(settings, discovery=StaticDiscovery())
    uvicorn.run(
        app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
        log_level="warning", access_log=False, lifespan="on",
    )  # fmt: skip


def serve_gateway(port: int, upstream_port: int, jwks_file: str, data_dir: str) -> None:
    """Run one gateway process whose catalog is the instance on ``upstream_port``."""
    import uvloop

    from matinee.platform.discovery import Instance, StaticDiscovery
    from matinee.runner import bind_socket
    from matinee.services.gateway.app import create_app
    from matinee.services.gateway.settings import GatewaySettings

    jwks = json.loads(Path(jwks_file).read_text())

    async def fetch_jwks() -> dict:  # type: ignore[type-arg]
        return jwks

    settings = GatewaySettings(
        data_dir=Path(data_dir),
        port=port,
        internal_secret=SECRET,
        # Buckets still run on every request; the limits just never refuse the benchmark.
        rate_limit_scale=1_000_000,
    )
    discovery = StaticDiscovery([Instance("catalog", "catalog-1", "127.0.0.1", upstream_port)])
    app = create_app(settings, discovery=discovery, jwks=fetch_jwks)
    uvloop.run(app.serve(bind_socket("127.0.0.1", port)))


def nginx_config(root: Path, port: int, *, upstream: int | None, identity: str) -> Path:
    """Write an nginx config: a proxy to ``upstream``, or a static server of ``root/www``."""
    if upstream is None:
        server = f"""
        listen 127.0.0.1:{port};
        root {root}/www;
        location / {{ default_type application/json; }}"""
    else:
        server = f"""
        listen 127.0.0.1:{port};
        location /api/ {{
            proxy_pass http://upstream_app/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header x-matinee-identity "{identity}";
        }}"""
    upstream_block = (
        f"upstream upstream_app {{ server 127.0.0.1:{upstream}; keepalive 64; }}"
        if upstream is not None
        else ""
    )
    return _load.nginx_config(root, port, f"{upstream_block}\n    server {{ {server}\n    }}")


def title_document() -> dict:  # type: ignore[type-arg]
    """A title whose JSON is about 1 KB, as catalog serves it."""
    return {
        "name": "The Matrix",
        "year": 1999,
        "runtime_minutes": 136,
        "genres": ["Action", "Sci-Fi"],
        "synopsis": (
            "A computer hacker learns from mysterious rebels about the true nature of his "
            "reality and his role in the war against its controllers. " * 4
        ),
        "cast": ["Keanu Reeves", "Laurence Fishburne", "Carrie-Anne Moss", "Hugo Weaving"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", choices=["catalog", "gateway"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--upstream-port", type=int, default=0)
    parser.add_argument("--jwks", default="")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.serve == "catalog":
        serve_catalog(args.port, args.data_dir)
        return
    if args.serve == "gateway":
        serve_gateway(args.port, args.upstream_port, args.jwks, args.data_dir)
        return
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        sys.exit("this benchmark needs nginx: apt-get install -y nginx")
    _load.require_wrk()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.unit.gateway.signing import SigningKeys

    from matinee.platform.identity import IDENTITY_HEADER, Identity, IdentitySigner

    keys = SigningKeys()
    token = keys.token("1001", plan="premium", ttl=3600)
    auth = {"Authorization": f"Bearer {token}"}
    identity = IdentitySigner(SECRET, service="bench", ttl=3600).sign(Identity.account("1001"))
    signed = {IDENTITY_HEADER: identity}
    admin = {
        IDENTITY_HEADER: IdentitySigner(SECRET, service="bench").sign(Identity.of_service("bench"))
    }
    env = {**os.environ, "MATINEE_LOG_JSON": "false", "MATINEE_LOG_LEVEL": "WARNING"}

    with tempfile.TemporaryDirectory(prefix="matinee-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx workers run as an unprivileged user and read www/
        for sub in ("www/titles", "tmp-body", "tmp-proxy", "tmp-fcgi", "tmp-uwsgi", "tmp-scgi"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        jwks_file = root / "jwks.json"
        jwks_file.write_text(json.dumps(keys.jwks()))
        procs: list[subprocess.Popen[bytes]] = []
        try:
            ports = {name: _load.free_port() for name in (
                "catalog", "gw_catalog", "nginx_catalog", "static", "gw_static", "nginx_static",
            )}  # fmt: skip
            me = [sys.executable, __file__]
            procs.append(_load.serve(
                [*me, "--serve", "catalog", "--port", str(ports["catalog"]), "--data-dir", tmp],
                env=env,
            ))  # fmt: skip
            catalog = f"http://127.0.0.1:{ports['catalog']}"
            _load.wait_http(f"{catalog}/healthz", timeout=20)
            body = json.dumps(title_document()).encode()
            put = urllib.request.Request(
                f"{catalog}/admin/titles/{TITLE_ID}",
                data=body,
                method="PUT",
                headers={"content-type": "application/json", **admin},
            )
            with urllib.request.urlopen(put, timeout=5) as reply:
                served = reply.read()
            (root / "www" / "titles" / str(TITLE_ID)).write_bytes(served)
            print(f"title document: {len(served)} bytes")

            for upstream_name, gw, ngx in (
                ("catalog", "gw_catalog", "nginx_catalog"),
                ("static", "gw_static", "nginx_static"),
            ):
                procs.append(_load.serve([
                    *me, "--serve", "gateway", "--port", str(ports[gw]),
                    "--upstream-port", str(ports[upstream_name]), "--jwks", str(jwks_file),
                    "--data-dir", tmp,
                ], env=env))  # fmt: skip
                conf = nginx_config(
                    root, ports[ngx], upstream=ports[upstream_name], identity=identity
                )
                procs.append(_load.serve([nginx, "-p", tmp, "-c", str(conf)]))
            static_conf = nginx_config(root, ports["static"], upstream=None, identity=identity)
            procs.append(_load.serve([nginx, "-p", tmp, "-c", str(static_conf)]))

            path = f"/titles/{TITLE_ID}"
            api = f"/api/titles/{TITLE_ID}"
            targets = {
                "catalog direct": (f"{catalog}{path}", signed),
                "nginx -> catalog": (f"http://127.0.0.1:{ports['nginx_catalog']}{api}", {}),
                "gateway -> catalog": (f"http://127.0.0.1:{ports['gw_catalog']}{api}", auth),
                "static direct": (f"http://127.0.0.1:{ports['static']}{path}", {}),
                "nginx -> static": (f"http://127.0.0.1:{ports['nginx_static']}{api}", {}),
                "gateway -> static": (f"http://127.0.0.1:{ports['gw_static']}{api}", auth),
            }
            for url, headers in targets.values():
                _load.wait_http(url, timeout=20, headers=headers)
                _load.wrk(url, connections=50, seconds=2, headers=headers)  # warm-up

            results: dict[tuple[str, int], list[_load.WrkResult]] = {}
            for round_no in range(args.rounds):
                for name, (url, headers) in targets.items():
                    for conns in (50, 1):
                        run = _load.wrk(
                            url, connections=conns, seconds=args.seconds, headers=headers
                        )
                        results.setdefault((name, conns), []).append(run)
                        print(f"round {round_no + 1} {name:<20} c{conns:<3} "
                              f"{run.requests_per_s:>9.0f} req/s  p50 {run.p50_ms:.3f} ms",
                              flush=True)  # fmt: skip
        finally:
            for proc in procs:
                _load.stop(proc)

    def runs(name: str, conns: int) -> list[_load.WrkResult]:
        return results[(name, conns)]

    def median(name: str, conns: int, field: str) -> float:
        return statistics.median(getattr(r, field) for r in runs(name, conns))

    def ratio(a: str, b: str) -> tuple[float, float, float]:
        per_round = [
            x.requests_per_s / y.requests_per_s
            for x, y in zip(runs(a, 50), runs(b, 50), strict=True)
        ]
        return statistics.median(per_round), min(per_round), max(per_round)

    def added(a: str, b: str) -> float:
        return statistics.median(
            x.p50_ms - y.p50_ms for x, y in zip(runs(a, 1), runs(b, 1), strict=True)
        )

    print(f"\nmedians of {args.rounds} rounds of {args.seconds} s")
    print(f"{'target':<22}{'c50 req/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'c1 req/s':>10}{'c1 p50 ms':>11}{'c1 p99 ms':>11}")  # fmt: skip
    for name in targets:
        print(f"{name:<22}{median(name, 50, 'requests_per_s'):>11.0f}"
              f"{median(name, 50, 'p50_ms'):>9.2f}{median(name, 50, 'p99_ms'):>9.2f}"
              f"{median(name, 1, 'requests_per_s'):>10.0f}{median(name, 1, 'p50_ms'):>11.3f}"
              f"{median(name, 1, 'p99_ms'):>11.3f}")  # fmt: skip
    cat, cat_lo, cat_hi = ratio("gateway -> catalog", "nginx -> catalog")
    static, static_lo, static_hi = ratio("gateway -> static", "nginx -> static")
    print(f"\ngateway / nginx in front of catalog: {cat:.2f}x "
          f"(rounds {cat_lo:.2f}-{cat_hi:.2f}; target >= 0.50x)")  # fmt: skip
    print(f"p50 added over catalog direct at c1: "
          f"{added('gateway -> catalog', 'catalog direct'):.3f} ms (target <= 0.100 ms); "
          f"nginx adds {added('nginx -> catalog', 'catalog direct'):.3f} ms")  # fmt: skip
    print(f"proxy overhead, 1 KB static upstream: gateway / nginx {static:.2f}x "
          f"(rounds {static_lo:.2f}-{static_hi:.2f}); p50 added at c1 "
          f"{added('gateway -> static', 'static direct'):.3f} ms, nginx adds "
          f"{added('nginx -> static', 'static direct'):.3f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
