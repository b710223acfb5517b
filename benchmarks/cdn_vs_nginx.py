"""A CDN node vs nginx serving the same files with sendfile, one worker each.

Claims (issue 4), same machine, same run, same wrk load (one thread, 50 keep-alive
connections):

1. cached 3 MB segments: at least 0.9x nginx's throughput (bytes/s);
2. cached 10 KB objects (playlists, init segments): at least 0.4x nginx's requests/s;
3. 100 concurrent requests for one uncached segment cause exactly one origin fill.

nginx runs from its own config (``worker_processes 1``, ``sendfile on``,
``tcp_nopush on``, ``access_log off``) on a free port; the node is one process
(``matinee.services.cdn`` on the fast server core, uvloop) whose origin is a tiny
fake reading the same files. Each object is requested once before measuring (the
fill, a MISS): the measured path is the cached one, signed URL checked on every
request, as a player sends it.

    .venv/bin/python benchmarks/cdn_vs_nginx.py [--seconds 8] [--rounds 2]

Needs wrk and nginx (``apt-get install -y wrk nginx``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _load

SECRET = "bench-url-secret"
ASSET = "benchasset01"
OBJECTS = {"720p/seg_1.m4s": 3 * 1024 * 1024, "720p/init.mp4": 10 * 1024}


class FileOrigin:
    """An origin that reads ``root/<asset>/<path>`` and counts its fetches."""

    def __init__(self, root: Path, delay: float = 0.0) -> None:
        self.root = root
        self.delay = delay
        self.fetches = 0

    async def fetch(self, asset_id: str, path: str) -> bytes | None:
        self.fetches += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        file = self.root / asset_id / path
        return file.read_bytes() if file.is_file() else None


def serve_node(port: int, www: str, data_dir: str) -> None:
    """Run one CDN node (fast server core on uvloop) whose origin reads ``www``."""
    import uvloop

    from matinee.platform.discovery import StaticDiscovery
    from matinee.runner import bind_socket
    from matinee.services.cdn.app import create_app
    from matinee.services.cdn.settings import CdnSettings

    settings = CdnSettings(
        data_dir=Path(data_dir), port=port, instance_id="cdn-1", url_secret=SECRET
    )
    app = create_app(settings, discovery=StaticDiscovery(), origin=FileOrigin(Path(www)))
    uvloop.run(app.serve(bind_socket("127.0.0.1", port)))


def nginx_config(root: Path, port: int) -> Path:
    """Write an nginx config serving ``root/www`` with sendfile and tcp_nopush."""
    return _load.nginx_config(
        root,
        port,
        f"""sendfile on;
    tcp_nopush on;
    types {{ video/iso.segment m4s; video/mp4 mp4; }}
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
    }}""",
    )


async def single_flight_check(root: Path) -> tuple[int, int]:
    """Send 100 concurrent requests for one uncached segment; return (fills, 200s)."""
    import aiohttp

    from matinee.platform.discovery import StaticDiscovery
    from matinee.platform.urlsign import UrlSigner
    from matinee.runner import bind_socket
    from matinee.services.cdn.app import create_app
    from matinee.services.cdn.settings import CdnSettings

    origin = FileOrigin(root / "www", delay=0.05)
    settings = CdnSettings(data_dir=root / "sf", instance_id="cdn-9", url_secret=SECRET)
    app = create_app(settings, discovery=StaticDiscovery(), origin=origin)
    sock = bind_socket("127.0.0.1", 0)
    task = asyncio.create_task(app.serve(sock, install_signals=False))
    await app.started.wait()
    path = UrlSigner(SECRET).path(ASSET, "bench", time.time() + 600, "720p/seg_1.m4s")
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
    size = OBJECTS["720p/seg_1.m4s"]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> bool:
            async with session.get(url) as reply:
                return reply.status == 200 and len(await reply.read()) == size

        ok = sum(await asyncio.gather(*(one() for _ in range(100))))
    app.stop()
    await task
    sock.close()
    return origin.fetches, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--www", default="")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.serve:
        serve_node(args.port, args.www, args.data_dir)
        return
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        sys.exit("this benchmark needs nginx: apt-get install -y nginx")
    _load.require_wrk()
    from matinee.platform.urlsign import UrlSigner

    env = {**os.environ, "MATINEE_LOG_JSON": "false", "MATINEE_LOG_LEVEL": "WARNING"}
    signer = UrlSigner(SECRET)
    with tempfile.TemporaryDirectory(prefix="matinee-bench-cdn-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx workers run unprivileged and read www/
        for sub in ("tmp-body", "tmp-proxy", "tmp-fcgi", "tmp-uwsgi", "tmp-scgi"):
            (root / sub).mkdir()
        for name, size in OBJECTS.items():
            file = root / "www" / ASSET / name
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(os.urandom(size))
            for parent in file.relative_to(root).parents:
                (root / parent).chmod(0o755)
            file.chmod(0o644)

        fills, ok = asyncio.run(single_flight_check(root))
        print(f"100 concurrent requests for one uncached 3 MB segment: {fills} origin fill(s), "
              f"{ok}/100 complete answers (target: exactly 1 fill)")  # fmt: skip

        procs: list[subprocess.Popen[bytes]] = []
        results: dict[tuple[str, str], list[_load.WrkResult]] = {}
        try:
            node_port, nginx_port = _load.free_port(), _load.free_port()
            procs.append(_load.serve([
                sys.executable, __file__, "--serve", "--port", str(node_port),
                "--www", str(root / "www"), "--data-dir", str(root / "node"),
            ], env=env))  # fmt: skip
            procs.append(_load.serve([nginx, "-p", tmp, "-c", str(nginx_config(root, nginx_port))]))
            expires = time.time() + 3600
            targets: dict[tuple[str, str], str] = {}
            for name in OBJECTS:
                signed = signer.path(ASSET, "bench", expires, name)
                targets[("cdn", name)] = f"http://127.0.0.1:{node_port}{signed}"
                targets[("nginx", name)] = f"http://127.0.0.1:{nginx_port}/{ASSET}/{name}"
            for url in targets.values():
                _load.wait_http(url)  # the node's first answer is its fill
                _load.wrk(url, connections=50, seconds=2)  # warm-up
            for _ in range(args.rounds):
                for key, url in targets.items():
                    run = _load.wrk(url, connections=50, seconds=args.seconds)
                    results.setdefault(key, []).append(run)
        finally:
            for proc in procs:
                _load.stop(proc)

    def best(server: str, name: str) -> float:
        return max(r.requests_per_s for r in results[(server, name)])

    print(f"\nwrk -t1 -c50 -d{args.seconds}s, best of {args.rounds} interleaved rounds")
    print(f"{'object':<18}{'server':<8}{'req/s':>10}{'MB/s':>10}   every round (req/s)")
    for name, size in OBJECTS.items():
        for server in ("nginx", "cdn"):
            rps = best(server, name)
            rounds = " ".join(f"{r.requests_per_s:.0f}" for r in results[(server, name)])
            print(f"{name:<18}{server:<8}{rps:>10.0f}{rps * size / 1e6:>10.1f}   {rounds}")
    seg, small = list(OBJECTS)
    big_ratio = best("cdn", seg) / best("nginx", seg)
    small_ratio = best("cdn", small) / best("nginx", small)
    print(f"\n3 MB segments, cdn / nginx throughput: {big_ratio:.2f}x (target >= 0.90x)")
    print(f"10 KB objects, cdn / nginx requests/s: {small_ratio:.2f}x (target >= 0.40x)")


if __name__ == "__main__":
    main()
