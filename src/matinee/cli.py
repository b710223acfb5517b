"""The ``matinee`` command: run and operate a fleet on this machine.

Every command acts on the fleet of one data dir (``--data-dir``, ``MATINEE_DATA_DIR``,
default ``./.matinee``). Commands live in one table, ``COMMANDS``; a later one
(seed, ingest, play, ...) is a ``Command`` row added with ``register``.

| command | does |
|---|---|
| ``matinee up [--detach]`` | start NATS, the registries and every service; wait until all are UP |
| ``matinee status [--json]`` | every instance: service, id, status, version, url, pid, restarts |
| ``matinee logs [SERVICE] [-f]`` | the instances' logs, prefixed by instance |
| ``matinee scale SERVICE N`` | converge to N instances of SERVICE |
| ``matinee down`` | stop the fleet gracefully, leaving no process behind |
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from matinee import seed
from matinee.services.media.cli import configure_ingest, run_ingest
from matinee.services.playback.cli import configure_play, run_play
from matinee.supervisor import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_REGISTRIES,
    DEFAULT_REGISTRY_PORT,
    ControlTimeout,
    FleetLock,
    FleetLocked,
    FleetPaths,
    configure_supervisor_logging,
    discover_services,
    fetch_registered,
    fleet_rows,
    format_table,
    lock_holder,
    plan_fleet,
    read_json,
    registry_base_url,
    send_request,
    serve,
)
from matinee.supervisor.plan import MAX_REGISTRIES
from matinee.supervisor.seeding import wait_for_seed

__all__ = ["COMMANDS", "Command", "main", "register"]


@dataclass(frozen=True, slots=True)
class Command:
    """One subcommand: its help line, its arguments, and what it runs."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def register(name: str, command: Command) -> None:
    """Add a subcommand to the ``matinee`` command."""
    COMMANDS[name] = command


def _say(message: str, stream: TextIO | None = None) -> None:
    print(message, file=stream or sys.stdout, flush=True)


def _err(message: str) -> None:
    _say(f"matinee: {message}", sys.stderr)


def _env(name: str, parse: Callable[[str], int], default: int) -> int:
    """Return the environment's ``name`` parsed like its flag, or ``default`` when unset."""
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        return parse(raw)
    except argparse.ArgumentTypeError as exc:
        raise SystemExit(f"matinee: {name}={raw!r}: {exc}") from None


def _registries(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_REGISTRIES:
        raise argparse.ArgumentTypeError(f"a fleet runs from 1 to {MAX_REGISTRIES} registries")
    return value


def _registry_roots(registry_url: str) -> str:
    """Return the registries' root URLs for people: ``http://127.0.0.1:8761, ...``."""
    urls = [registry_base_url(u) for u in registry_url.split(",") if u.strip()]
    return ", ".join(urls)


def _port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("a port is a number from 0 to 65535") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is a number from 0 to 65535")
    return value


def _count(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("an instance count is a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("an instance count cannot be negative")
    return value


def _paths(args: argparse.Namespace) -> FleetPaths:
    return FleetPaths.of(args.data_dir)


def _not_running(paths: FleetPaths) -> int:
    _err(
        f"no fleet is running on {paths.data_dir} "
        f"(start one with `matinee up --detach --data-dir {paths.data_dir}`)"
    )
    return 1


# -- up -----------------------------------------------------------------------------------


def _configure_up(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--detach", "-d", action="store_true", help="run in the background; return once all is UP"
    )
    parser.add_argument(
        "--gateway-port",
        type=_port,
        default=_env("MATINEE_GATEWAY_PORT", _port, DEFAULT_GATEWAY_PORT),
        help="gateway port (MATINEE_GATEWAY_PORT, default 8080); a taken one moves aside",
    )
    parser.add_argument(
        "--registry-port",
        type=_port,
        default=_env("MATINEE_REGISTRY_PORT", _port, DEFAULT_REGISTRY_PORT),
        help="first registry's port (MATINEE_REGISTRY_PORT, default 8761; its peers take the"
        " ports after it); a taken one moves aside",
    )
    parser.add_argument(
        "--registries",
        type=_registries,
        default=_env("MATINEE_REGISTRIES", _registries, DEFAULT_REGISTRIES),
        help=f"registry peers to run (MATINEE_REGISTRIES, default {DEFAULT_REGISTRIES})",
    )
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="with --detach: seconds to wait for UP"
    )
    # Internal: the detached supervisor process itself.
    parser.add_argument("--supervise", action="store_true", help=argparse.SUPPRESS)


def _run_up(args: argparse.Namespace) -> int:
    paths = _paths(args)
    if args.detach and not args.supervise:
        return _detach(args, paths)
    lock = FleetLock(paths.lock)
    try:
        lock.acquire()
    except FleetLocked as exc:
        _err(str(exc))
        return 1
    try:
        paths.create()
        # Detached, stderr already is the supervisor log; in the foreground it is the terminal.
        configure_supervisor_logging(None if args.supervise else paths.supervisor_log)
        plan = plan_fleet(
            paths,
            discover_services(),
            gateway_port=args.gateway_port,
            registry_port=args.registry_port,
            registries=args.registries,
        )
    except BaseException:
        lock.release()
        raise
    if not args.supervise:
        _say(f"starting the fleet on {paths.data_dir} (Ctrl-C stops it)")
        if plan.gateway_url:
            _say(f"  gateway   {plan.gateway_url}")
        _say(f"  registry  {_registry_roots(plan.registry_url)}")
    return serve(plan, lock)


def _detach(args: argparse.Namespace, paths: FleetPaths) -> int:
    holder = lock_holder(paths.lock)
    if holder is not None:
        _err(str(FleetLocked(paths.data_dir, holder if holder > 0 else None)))
        return 1
    paths.create()
    argv = [
        sys.executable,
        "-m",
        "matinee.cli",
        "up",
        "--supervise",
        "--data-dir",
        str(paths.data_dir),
        "--gateway-port",
        str(args.gateway_port),
        "--registry-port",
        str(args.registry_port),
        "--registries",
        str(args.registries),
    ]
    with open(paths.supervisor_log, "ab") as log:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _say(f"starting the fleet on {paths.data_dir} (supervisor pid {child.pid})")
    try:
        return _wait_until_up(paths, child, args.timeout)
    except KeyboardInterrupt:
        _err(
            "stopped waiting; the fleet keeps starting in the background "
            f"(`matinee down --data-dir {paths.data_dir}` stops it)"
        )
        return 130


def _wait_until_up(paths: FleetPaths, child: subprocess.Popen[bytes], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    shown_warnings = False
    last_progress = ""
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            _err(f"the supervisor exited with code {code} before the fleet was up")
            _say(_tail(paths.supervisor_log, 20), sys.stderr)
            return 1
        state = read_json(paths.state)
        if not isinstance(state, dict) or state.get("pid") != child.pid:
            time.sleep(0.1)
            continue
        if not shown_warnings:
            for warning in state.get("warnings", []):
                _say(f"WARNING: {warning}", sys.stderr)
            shown_warnings = True
        instances = state.get("instances", [])
        up = sum(1 for i in instances if i.get("state") == "up")
        progress = f"  {up}/{sum(state.get('desired', {}).values())} instances UP"
        if progress != last_progress:
            _say(progress)
            last_progress = progress
        if state.get("ready_at"):
            seeded = wait_for_seed(paths, child.pid, _say)  # a fresh data dir is seeded first
            _summary(paths, state)
            for line in seeded:
                _say(line)
            return 0
        time.sleep(0.2)
    state = read_json(paths.state) or {}
    waiting = [i["instance_id"] for i in state.get("instances", []) if i.get("state") != "up"] or [
        "(the start sequence)"
    ]
    _err(
        f"the fleet is not UP after {timeout:.0f} s; still waiting for: {', '.join(waiting)}.\n"
        f"It keeps trying in the background: `matinee logs SERVICE --data-dir {paths.data_dir}` "
        f"shows why, `matinee down --data-dir {paths.data_dir}` stops it."
    )
    return 1


def _summary(paths: FleetPaths, state: dict[str, Any]) -> None:
    took = float(state["ready_at"]) - float(state.get("started_at") or state["ready_at"])
    count = len(state.get("instances", []))
    _say(f"Matinee is up: {count} instances in {took:.1f} s (supervisor pid {state['pid']})")
    if state.get("gateway_url"):
        _say(f"  gateway   {state['gateway_url']}")
    _say(f"  registry  {_registry_roots(str(state.get('registry_url', '')))}")
    _say(f"  nats      {state.get('nats_url', '')}")
    _say(f"  data      {paths.data_dir}")
    _say("`matinee status` lists the instances, `matinee logs -f` follows them,")
    _say("`matinee down` stops the fleet.")


def _tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# -- status -------------------------------------------------------------------------------


def _configure_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON array of instances")


def _run_status(args: argparse.Namespace) -> int:
    paths = _paths(args)
    holder = lock_holder(paths.lock)
    state = read_json(paths.state)
    if holder is None or not isinstance(state, dict):
        return _not_running(paths)
    registry_url = str(state.get("registry_url", ""))
    try:
        registered = fetch_registered(registry_url) if registry_url else None
    except OSError as exc:
        roots = _registry_roots(registry_url)
        who = f"the registries at {roots} are" if "," in roots else f"the registry at {roots} is"
        _err(f"{who} not answering ({exc}); showing the last known")
        registered = None
    rows = fleet_rows(state, registered)
    if args.json:
        _say(json.dumps(rows, indent=2))
        return 0
    _say(
        f"fleet on {paths.data_dir}: {state.get('phase', '?')} (supervisor pid {state.get('pid')})"
    )
    if state.get("gateway_url"):
        _say(f"gateway {state['gateway_url']}   registry {_registry_roots(registry_url)}")
    _say("")
    _say(format_table(rows))
    return 0


# -- logs ---------------------------------------------------------------------------------


def _configure_logs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", nargs="?", help="one service (or `supervisor`); all if omitted")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    parser.add_argument(
        "-n", "--lines", type=_count, default=50, help="lines of history per instance (50)"
    )


def _log_files(paths: FleetPaths, service: str | None) -> list[tuple[str, Path]]:
    if service == "supervisor":
        return [("supervisor", paths.supervisor_log)] if paths.supervisor_log.exists() else []
    pattern = f"{service}/*.log" if service else "*/*.log"
    found = [(p.stem, p) for p in sorted(paths.logs.glob(pattern))]
    if not service and paths.supervisor_log.exists():
        found.insert(0, ("supervisor", paths.supervisor_log))
    return found


def _run_logs(args: argparse.Namespace) -> int:
    paths = _paths(args)
    files = _log_files(paths, args.service)
    if not files and not args.follow:
        what = f"service {args.service!r}" if args.service else "this fleet"
        known = sorted(p.name for p in paths.logs.glob("*") if p.is_dir())
        hint = f" (services with logs: {', '.join(known)})" if known else ""
        _err(f"no logs for {what} under {paths.logs}{hint}")
        return 1
    width = max([len(name) for name, _ in files] or [10])
    offsets: dict[Path, int] = {}
    for name, path in files:
        for line in _tail(path, args.lines).splitlines() if args.lines else []:
            _say(f"{name:<{width}} | {line}")
        offsets[path] = path.stat().st_size if path.exists() else 0
    if not args.follow:
        return 0
    try:
        for name, line in _follow(paths, args.service, offsets):
            width = max(width, len(name))
            _say(f"{name:<{width}} | {line}")
    except KeyboardInterrupt:
        pass
    return 0


def _follow(
    paths: FleetPaths, service: str | None, offsets: dict[Path, int]
) -> Iterator[tuple[str, str]]:
    partial: dict[Path, bytes] = {}
    while True:
        got = False
        for name, path in _log_files(paths, service):
            start = offsets.setdefault(path, 0)
            try:
                size = path.stat().st_size
                if size < start:  # truncated: start over
                    start = 0
                if size == start:
                    continue
                with open(path, "rb") as f:
                    f.seek(start)
                    chunk = partial.pop(path, b"") + f.read(size - start)
            except OSError:
                continue
            offsets[path] = size
            *lines, rest = chunk.split(b"\n")
            if rest:
                partial[path] = rest
            for line in lines:
                got = True
                yield name, line.decode("utf-8", "replace")
        if not got:
            time.sleep(0.25)


# -- scale --------------------------------------------------------------------------------


def _configure_scale(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", help="the service to scale, e.g. catalog")
    parser.add_argument("count", type=_count, help="how many instances it should have")
    parser.add_argument("--no-wait", action="store_true", help="return once the request is taken")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (60)")


def _run_scale(args: argparse.Namespace) -> int:
    paths = _paths(args)
    if lock_holder(paths.lock) is None:
        return _not_running(paths)
    try:
        ok, message = send_request(paths, "scale", service=args.service, count=args.count)
    except ControlTimeout as exc:
        _err(str(exc))
        return 1
    if not ok:
        _err(message)
        return 1
    _say(message)
    if args.no_wait:
        return 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        state = read_json(paths.state) or {}
        mine = [i for i in state.get("instances", []) if i.get("service") == args.service]
        if len(mine) == args.count and all(i.get("state") == "up" for i in mine):
            _say(f"{args.service}: {args.count} instance(s) UP")
            return 0
        time.sleep(0.2)
    _err(f"{args.service} did not reach {args.count} instances UP within {args.timeout:.0f} s")
    return 1


# -- down ---------------------------------------------------------------------------------


def _configure_down(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before killing (60)")


def _run_down(args: argparse.Namespace) -> int:
    paths = _paths(args)
    holder = lock_holder(paths.lock)
    state = read_json(paths.state)
    if holder is None:
        killed = _kill_leftovers(state)
        if killed:
            _say(f"no supervisor was running on {paths.data_dir}; killed {killed} leftover(s)")
        else:
            _say(f"no fleet is running on {paths.data_dir}")
        return 0
    deadline = time.monotonic() + args.timeout
    while holder == -1 and time.monotonic() < deadline:  # it is still writing its pid
        time.sleep(0.05)
        holder = lock_holder(paths.lock)
    if holder is None:
        return 0
    _say(f"stopping the fleet on {paths.data_dir} (supervisor pid {holder})")
    with contextlib.suppress(ProcessLookupError):
        os.kill(holder, signal.SIGTERM)
    while lock_holder(paths.lock) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    if lock_holder(paths.lock) is not None:
        _err(f"the supervisor did not stop within {args.timeout:.0f} s; killing it")
        with contextlib.suppress(ProcessLookupError):
            os.kill(holder, signal.SIGKILL)
        time.sleep(0.5)
    _wait_gone(holder, deadline=time.monotonic() + 5)
    killed = _kill_leftovers(read_json(paths.state) or state)
    if killed:
        _say(f"killed {killed} leftover process(es)")
    _say("the fleet is down")
    return 0


def _wait_gone(pid: int, deadline: float) -> None:
    """Wait until ``pid`` has exited (a zombie counts as gone)."""
    import psutil

    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.Error:
            return
        time.sleep(0.05)


def _kill_leftovers(state: Any) -> int:
    """Kill instance processes a dead supervisor left behind; return how many."""
    import psutil

    if not isinstance(state, dict):
        return 0
    killed = 0
    for inst in state.get("instances", []):
        pid, started = inst.get("pid"), inst.get("started_at")
        if not pid or not started:
            continue
        try:
            proc = psutil.Process(int(pid))
            # A pid can be reused: only a process born when ours was is ours.
            if abs(proc.create_time() - float(started)) > 5:
                continue
            proc.kill()
            killed += 1
        except (psutil.Error, ValueError):
            continue
    return killed


register("up", Command("start the fleet (foreground, or --detach)", _configure_up, _run_up))
register("status", Command("list the fleet's instances", _configure_status, _run_status))
register("logs", Command("print (and follow) instance logs", _configure_logs, _run_logs))
register("scale", Command("set the number of instances of a service", _configure_scale, _run_scale))
register("down", Command("stop the fleet gracefully", _configure_down, _run_down))
register("ingest", Command("encode a video file for a title", configure_ingest, run_ingest))
register("seed", Command("load a real catalog and demo accounts", seed.configure, seed.run))
register("play", Command("play a title with the reference player", configure_play, run_play))


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every registered subcommand."""
    data_dir_help = "the fleet's data dir (MATINEE_DATA_DIR, default ./.matinee)"
    # Accepted before or after the subcommand; after wins, absent falls back to before.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help=data_dir_help)
    parser = argparse.ArgumentParser(
        prog="matinee", description="Run and operate a Matinee fleet on this machine."
    )
    parser.add_argument(
        "--data-dir", default=os.environ.get("MATINEE_DATA_DIR", ".matinee"), help=data_dir_help
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        child = sub.add_parser(name, help=command.help, description=command.help, parents=[common])
        command.configure(child)
        child.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``matinee`` command line; return the exit code."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
