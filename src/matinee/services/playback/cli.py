"""``matinee play TITLE_ID --abr NAME [--trace FILE]``: the reference player.

It signs in (the demo account ``matinee seed`` wrote to ``<data_dir>/seeded``, or
``--email``/``--password``), picks the first profile (or ``--profile``), plays the
title through the gateway and the CDN, and prints one line per segment and the QoE.
Exit codes: 0 played, 1 failed on the way (every node down, the fleet away),
2 refused (unknown title, no asset, plan limit, bad credentials).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["configure_play", "run_play"]


def _say(message: str) -> None:
    print(message, flush=True)


def _err(message: str) -> None:
    print(f"matinee: {message}", file=sys.stderr, flush=True)


def _positive(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def configure_play(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``matinee play``."""
    from matinee.services.playback.domain.abr import ALGORITHMS

    parser.add_argument("title_id", type=int, help="the catalog title to play")
    parser.add_argument("--abr", choices=sorted(ALGORITHMS), default="matinee",
                        help="the ABR algorithm (matinee)")  # fmt: skip
    parser.add_argument("--trace", help="a network trace in Sabre's JSON format to throttle to")
    parser.add_argument("--gateway", default="", help="the gateway URL (from the data dir)")
    parser.add_argument("--email", default="", help="sign in as (the seeded demo account)")
    parser.add_argument("--password", default="")
    parser.add_argument("--profile", default="", help="profile id (the account's first)")
    parser.add_argument("--max-height", type=int, default=2160, help="the device's limit (2160)")
    parser.add_argument("--region", default="", help="the client's region for steering")
    parser.add_argument("--speed", type=_positive, default=1.0,
                        help="media seconds played per wall second (1)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=0.0,
                        help="play at least this long, looping the title (0: once)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="end with the QoE as one JSON line")


def _gateway(args: argparse.Namespace, data_dir: Path) -> str:
    if args.gateway:
        return str(args.gateway)
    try:
        state = json.loads((data_dir / "state.json").read_text())
        return str(state.get("gateway_url") or "")
    except (OSError, ValueError):
        return ""


def _credentials(args: argparse.Namespace, data_dir: Path) -> tuple[str, str]:
    if args.email:
        return args.email, args.password
    from matinee.seed import read_marker

    demo = (read_marker(data_dir) or {}).get("demo") or {}
    return str(demo.get("email") or ""), str(demo.get("password") or "")


def run_play(args: argparse.Namespace) -> int:
    """Run ``matinee play``; return the exit code."""
    data_dir = Path(args.data_dir).expanduser().resolve()
    gateway = _gateway(args, data_dir)
    if not gateway:
        _err(f"no fleet found for {data_dir}: start one with `matinee up` or pass --gateway")
        return 1
    email, password = _credentials(args, data_dir)
    if not email or not password:
        _err("no credentials: run `matinee seed` (demo account) or pass --email/--password")
        return 2
    try:
        return asyncio.run(_play(args, gateway, email, password))
    except KeyboardInterrupt:
        return 130


async def _login(http: Any, gateway: str, email: str, password: str) -> str | None:
    async with http.post(
        f"{gateway}/api/auth/login", json={"email": email, "password": password}
    ) as resp:
        body = await resp.json(content_type=None)
        if resp.status != 200:
            _err(f"login refused ({resp.status}): {body.get('detail') if body else ''}")
            return None
        return str(body["access_token"])


async def _profile(http: Any, gateway: str, token: str) -> str:
    async with http.get(
        f"{gateway}/api/profiles", headers={"authorization": f"Bearer {token}"}
    ) as resp:
        body = await resp.json(content_type=None)
    items = body.get("profiles", []) if isinstance(body, dict) else body or []
    return str(items[0]["id"]) if items else "default"


async def _play(args: argparse.Namespace, gateway: str, email: str, password: str) -> int:
    import aiohttp

    from matinee.services.playback.domain.abr import create
    from matinee.services.playback.player.session import AllNodesFailed, Player, PlayRefused
    from matinee.services.playback.player.throttle import Throttle

    try:
        throttle = Throttle.from_file(args.trace) if args.trace else Throttle.unlimited()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _err(f"cannot read the trace {args.trace}: {exc}")
        return 2
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        try:
            token = await _login(http, gateway, email, password)
            if token is None:
                return 2
            profile = args.profile or await _profile(http, gateway, token)
            player = Player(http, gateway, token, create(args.abr), throttle=throttle,
                            speed=args.speed, min_seconds=args.seconds, say=_say)  # fmt: skip
            _say(f"playing title {args.title_id} with {args.abr}"
                 + (f" through {args.trace}" if args.trace else ""))  # fmt: skip
            device = {"max_height": args.max_height, "codecs": ["avc1", "mp4a"]}
            qoe = await player.play(
                args.title_id, profile, device=device, region=args.region or None
            )
        except PlayRefused as exc:
            _err(f"playback refused: {exc}")
            return 2
        except AllNodesFailed as exc:
            _err(str(exc))
            return 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            _err(f"the fleet did not answer: {exc!r}")
            return 1
    for line in qoe.lines():
        _say(line)
    if args.json:
        _say(json.dumps(qoe.to_json()))
    return 0
