"""``matinee ingest PATH --title ID``: encode a local file into the fleet's origin.

The file is first copied into ``<data_dir>/ingest/`` (unless it already lies under
the data dir): the media server only reads files inside its allowed roots, and a
job that is retried or resumed after a crash needs its source to still be there.
With a fleet running, the running media service is asked (so the encode is its
job and ``matinee.media.asset_ready`` reaches the catalog); without one, the same
queue and worker run inside this process on the data dir's database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["configure_ingest", "run_ingest", "stage_source"]

_INBOX = "ingest"


def _say(message: str) -> None:
    print(message, flush=True)


def _err(message: str) -> None:
    print(f"matinee: {message}", file=sys.stderr, flush=True)


def _title(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("a title id is a whole number") from None
    if not 1 <= value <= 2**53:
        raise argparse.ArgumentTypeError("a title id is between 1 and 2**53")
    return value


def configure_ingest(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``matinee ingest``."""
    parser.add_argument("path", help="the video file to ingest")
    parser.add_argument("--title", type=_title, required=True, help="the catalog title id")
    parser.add_argument(
        "--no-wait", action="store_true", help="with a running fleet: return once queued"
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait (3600)")


def stage_source(source: Path, data_dir: Path) -> Path:
    """Return a copy of ``source`` media may read: itself if under the data dir, else a copy."""
    source, data_dir = source.resolve(), data_dir.resolve()
    if source.is_relative_to(data_dir):
        return source
    from matinee.services.media.worker import sha256_of

    inbox = data_dir / _INBOX
    inbox.mkdir(parents=True, exist_ok=True)
    target = inbox / f"{sha256_of(source)[:16]}-{source.name[-100:]}"
    if not target.exists():
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(source, partial)
        partial.rename(target)
    return target


def run_ingest(args: argparse.Namespace) -> int:
    """Run ``matinee ingest``; return the exit code (0 done, 1 failed, 2 refused)."""
    data_dir = Path(args.data_dir).resolve()
    source = Path(args.path).expanduser()
    if not source.is_file():
        _err(f"{args.path}: no such file")
        return 2
    staged = stage_source(source, data_dir)
    media_url = _running_media(data_dir)
    if media_url is not None:
        _say(f"asking media at {media_url}")
        code = _via_service(media_url, staged, args)
    else:
        _say("no fleet is running here: encoding in this process")
        code = asyncio.run(_in_process(data_dir, staged, args))
    if code == 2 and staged != source.resolve():
        staged.unlink(missing_ok=True)  # refused: keep no copy of it
    return code


def _running_media(data_dir: Path) -> str | None:
    from matinee.supervisor import FleetPaths, fetch_registered, lock_holder, read_json

    paths = FleetPaths.of(data_dir)
    state = read_json(paths.state)
    if lock_holder(paths.lock) is None or not isinstance(state, dict):
        return None
    try:
        registered = fetch_registered(str(state.get("registry_url", "")))
    except (OSError, ValueError):
        return None
    for inst in registered:
        if inst.service == "media" and inst.status == "UP":
            return inst.url.rstrip("/")
    return None


def _call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    from matinee.platform.identity import IDENTITY_HEADER, Identity, IdentitySigner
    from matinee.platform.settings import ServiceSettings

    signer = IdentitySigner(ServiceSettings().internal_secret, service="cli")
    headers = {IDENTITY_HEADER: signer.sign(Identity.of_service("cli"))}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, None


def _show(job: dict[str, Any], last: list[str]) -> None:
    line = f"  {job['status']:<8} {job['progress'] * 100:5.1f}%  attempt {job['attempts']}"
    if line != (last[0] if last else ""):
        _say(line)
        last[:] = [line]


def _finish(status: str, asset_id: str, error: str, ladder: dict[str, Any] | None) -> int:
    if status != "done":
        _err(f"asset {asset_id} failed: {error}")
        return 1
    _say(f"asset {asset_id} is ready")
    for rung in (ladder or {}).get("rungs", []):
        _say(
            f"  {rung['name']:>6}  {rung['width']}x{rung['height']}"
            f"  {rung['average_bitrate_kbps']:.0f} kbps avg  {rung['codecs']}"
        )
    return 0


def _via_service(base: str, staged: Path, args: argparse.Namespace) -> int:
    status, body = _call(
        f"{base}/admin/ingest", "POST", {"path": str(staged), "title_id": args.title}
    )
    if status >= 400 or not isinstance(body, dict):
        detail = body.get("detail") if isinstance(body, dict) else body
        _err(f"media refused the file ({status}): {detail}")
        return 2
    verb = "queued" if status == 202 else "already known (no-op)"
    _say(f"job {body['job_id']} for asset {body['asset_id']}: {verb}")
    if args.no_wait:
        return 0
    deadline, last = time.monotonic() + args.timeout, []  # type: ignore[var-annotated]
    job = body
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        status, polled = _call(f"{base}/jobs/{body['job_id']}")
        if status == 200 and isinstance(polled, dict):
            job = polled
            _show(job, last)
    if job["status"] not in ("done", "failed"):
        _err(f"job {job['job_id']} is still {job['status']} after {args.timeout:.0f} s")
        return 1
    ladder = _call(f"{base}/assets/{job['asset_id']}")[1] if job["status"] == "done" else None
    return _finish(job["status"], job["asset_id"], job["error"], ladder)


async def _in_process(data_dir: Path, staged: Path, args: argparse.Namespace) -> int:
    from matinee.services.media.app import build_worker, open_database
    from matinee.services.media.domain import Unplayable
    from matinee.services.media.ingest import BadSource, Ingestor, OutsideRoots
    from matinee.services.media.settings import MediaSettings
    from matinee.services.media.storage import MIGRATIONS

    settings = MediaSettings(data_dir=data_dir, workers=0)
    database = open_database(settings)
    if not await database.start(MIGRATIONS):
        _err(f"cannot open media's database ({database.location})")
        return 1
    try:
        worker = build_worker(settings, database)
        ingestor = Ingestor(worker.jobs, worker.encoder, settings.allowed_roots)
        try:
            admission = await ingestor.admit(str(staged), args.title)
        except (BadSource, OutsideRoots, Unplayable) as exc:
            _err(f"{args.path} cannot be ingested: {exc}")
            return 2
        job = admission.job
        verb = "queued" if admission.created else "already known (no-op)"
        _say(f"job {job.id} for asset {job.asset_id}: {verb}")
        deadline, last = time.monotonic() + args.timeout, []  # type: ignore[var-annotated]
        while not job.finished and time.monotonic() < deadline:
            ran = await worker.run_once()
            current = await worker.jobs.get(job.id)
            job = current or job
            _show({"status": str(job.status), "progress": job.progress,
                   "attempts": job.attempts}, last)  # fmt: skip
            if ran is None and not job.finished:
                await asyncio.sleep(0.5)  # a backoff, or another worker holds it
        return _finish(str(job.status), job.asset_id, job.error, worker.origin.ladder(job.asset_id))
    finally:
        await database.close()
