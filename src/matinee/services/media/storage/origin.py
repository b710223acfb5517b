"""The origin store: published assets on the filesystem, each one whole or absent.

An encode writes into ``<root>/.staging/<asset_id>.<token>/`` and the finished
directory is renamed to ``<root>/<asset_id>/`` in one step, so a reader (the CDN
filling from ``GET /origin/...``) sees either no asset or all of it, never part.

| call | does |
|---|---|
| ``store.staging(asset_id)`` | a fresh, empty directory to encode into |
| ``store.publish(staging, asset_id)`` | make it the asset (atomic rename); False if it existed |
| ``store.resolve(asset_id, "720p/seg_1.m4s")`` | the file, or :class:`ObjectNotFound` |
| ``store.ladder(asset_id)`` | the parsed ``ladder.json``, or None |
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import orjson

from matinee.services.media.domain import ASSET_ID, UnsafePath, safe_parts

__all__ = ["ObjectNotFound", "OriginStore"]

_STAGING = ".staging"


class ObjectNotFound(LookupError):
    """No object at that path inside the store (or the path leads outside it)."""


class OriginStore:
    """Assets under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def start(self) -> None:
        """Create the root and its staging area."""
        (self.root / _STAGING).mkdir(parents=True, exist_ok=True)

    def asset_dir(self, asset_id: str) -> Path:
        """Return where an asset lives (whether or not it exists)."""
        if not ASSET_ID.match(asset_id):
            raise ObjectNotFound(f"no asset {asset_id!r}")
        return self.root / asset_id

    def has(self, asset_id: str) -> bool:
        """Tell whether an asset is published."""
        try:
            return (self.asset_dir(asset_id) / "ladder.json").is_file()
        except ObjectNotFound:
            return False

    def staging(self, asset_id: str) -> Path:
        """Return a new empty directory to build ``asset_id`` in, clearing older attempts."""
        area = self.root / _STAGING
        area.mkdir(parents=True, exist_ok=True)
        # The caller holds the job's claim, so earlier attempts of this asset are dead.
        for old in area.glob(f"{asset_id}.*"):
            shutil.rmtree(old, ignore_errors=True)
        path = area / f"{asset_id}.{secrets.token_hex(4)}"
        path.mkdir()
        return path

    def discard(self, staging: Path) -> None:
        """Remove a staging directory that will not be published."""
        shutil.rmtree(staging, ignore_errors=True)

    def publish(self, staging: Path, asset_id: str) -> bool:
        """Move a finished staging directory into place; False if the asset already exists."""
        target = self.asset_dir(asset_id)
        try:
            # rename(2) of a directory onto a missing name is atomic on one filesystem.
            os.rename(staging, target)
        except OSError:
            if target.is_dir():
                self.discard(staging)
                return False
            raise
        return True

    def resolve(self, asset_id: str, path: str) -> Path:
        """Return the file an object path names inside an asset; raise ObjectNotFound."""
        base = self.asset_dir(asset_id)
        try:
            parts = safe_parts(path)
        except UnsafePath as exc:
            raise ObjectNotFound(str(exc)) from None
        candidate = base.joinpath(*parts)
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            raise ObjectNotFound(f"no object {path!r} in asset {asset_id}") from None
        # A symlink inside the asset must not lead outside it.
        if not real.is_relative_to(base.resolve()) or not real.is_file():
            raise ObjectNotFound(f"no object {path!r} in asset {asset_id}")
        return real

    def ladder(self, asset_id: str) -> dict[str, Any] | None:
        """Return an asset's ladder.json, or None when it is not published."""
        try:
            raw = (self.asset_dir(asset_id) / "ladder.json").read_bytes()
        except (ObjectNotFound, OSError):
            return None
        with contextlib.suppress(ValueError):
            data = orjson.loads(raw)
            if isinstance(data, dict):
                return data
        return None
