"""A playback database as migration 1 left it, for the tests of later migrations."""

from __future__ import annotations

import sqlalchemy as sa

from matinee.platform.storage import Database
from matinee.services.playback.storage import MIGRATIONS


async def make_version_one(url: str, asset_id: str) -> None:
    """Leave at ``url`` the sessions table as version 1 made it, with session ``s1`` under way."""
    old = Database("playback", url)
    assert await old.start(MIGRATIONS[:1])
    async with old.write() as conn:
        # Migration 1 builds today's tables: take the later column away again.
        await conn.execute(sa.text("ALTER TABLE sessions DROP COLUMN duration_s"))
        await conn.execute(
            sa.text(
                "INSERT INTO sessions (session_id, account_id, profile_id, title_id, asset_id,"
                " started_at, lease_expires_at, state) VALUES"
                " ('s1', 'a', 'p', 1, :asset, 1000, 1060, 'active')"
            ),
            {"asset": asset_id},
        )
    await old.close()
