"""Shared helpers for benchmarks: start a server process, wait for it, load it with wrk."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "WrkResult",
    "free_port",
    "nginx_config",
    "parse_wrk",
    "require_wrk",
    "serve",
    "stop",
    "wait_http",
    "wrk",
]


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_wrk() -> str:
    """Return wrk's path or exit with how to install it."""
    path = shutil.which("wrk")
    if path is None:
        sys.exit("this benchmark needs wrk: apt-get install -y wrk")
    return path


def serve(argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a server process with output discarded."""
    return subprocess.Popen(
        list(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process and reap it."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_http(url: str, timeout: float = 15.0, headers: dict[str, str] | None = None) -> None:
    """Poll ``url`` until it answers 2xx."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=1) as resp:
                if resp.status < 300:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    transfer_per_s: str


def _to_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    *,
    connections: int = 50,
    seconds: int = 8,
    threads: int = 1,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Load ``url`` with wrk (keep-alive) and return requests/s and latency percentiles."""
    extra = [arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run(
        [
            require_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            *extra,
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        print(out, file=sys.stderr)
    return parse_wrk(out)


def parse_wrk(out: str) -> WrkResult:
    """Read requests/s, p50, p99 and transfer rate from wrk's --latency output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    transfer = re.search(r"Transfer/sec:\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return WrkResult(rps, p50, p99, transfer)


def nginx_config(root: Path, port: int, http_body: str) -> Path:
    """Write a one-worker, foreground nginx config whose files all stay under ``root``."""
    conf = root / f"nginx-{port}.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
pid {root}/nginx-{port}.pid;
error_log {root}/nginx-{port}.err warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {root}/tmp-body;
    proxy_temp_path {root}/tmp-proxy;
    fastcgi_temp_path {root}/tmp-fcgi;
    uwsgi_temp_path {root}/tmp-uwsgi;
    scgi_temp_path {root}/tmp-scgi;
    {http_body}
}}
"""
    )
    return conf
