"""Run one instance of one service as this OS process: ``python -m matinee.runner catalog``.

The supervisor starts every instance this way (DESIGN.md rule 7). The runner
binds the listening socket itself, so an instance asked for port 0 knows the
port the OS gave it before the app starts and registers that one; a fixed
port (gateway 8080) is bound with SO_REUSEPORT so several instances share it,
the kernel spreading connections across them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import sys

import uvicorn

from matinee.platform.service import ServiceSpec
from matinee.platform.settings import ServiceSettings
from matinee.platform.telemetry.logging import configure_logging

__all__ = ["bind_socket", "load_spec", "main"]


def load_spec(service: str) -> ServiceSpec:
    """Import ``matinee.services.<service>`` and return its SPEC."""
    module = importlib.import_module(f"matinee.services.{service}")
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, ServiceSpec):
        raise SystemExit(f"matinee.services.{service} has no SPEC")
    return spec


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket; port 0 takes a free port, others are shared."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> None:
    """Bind, build the service's app from the environment and serve until signalled."""
    parser = argparse.ArgumentParser(prog="python -m matinee.runner")
    parser.add_argument("service")
    args = parser.parse_args(argv)
    spec = load_spec(args.service)
    base = ServiceSettings()
    instance_id = base.resolved_instance_id(spec.name)
    try:
        sock = bind_socket(base.host, base.port)
    except OSError as exc:
        print(f"{spec.name}: cannot listen on {base.host}:{base.port}: {exc}", file=sys.stderr)
        raise SystemExit(3) from exc
    # The service's own settings are built in its factory from the environment (rule 5);
    # the runner only pins what it decided: the real port and the instance id.
    os.environ["MATINEE_PORT"] = str(sock.getsockname()[1])
    os.environ["MATINEE_INSTANCE_ID"] = instance_id
    configure_logging(spec.name, instance_id, base.log_level, base.log_json)
    app_module = importlib.import_module(f"matinee.services.{spec.name}.app")
    app = app_module.create_app()
    serve = getattr(app, "serve", None)
    if callable(serve):
        # The app brings its own server (the gateway's edge): run it on uvloop.
        import uvloop

        uvloop.run(serve(sock))
        return
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
