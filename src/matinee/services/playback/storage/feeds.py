"""Playback's own copy of what it needs from media and catalog, kept by their events.

Nothing on the play path calls media or catalog: ``asset_ready`` fills the assets
table (and maps the title it was ingested for), ``title_upserted`` maps every title
whose ``asset_ref`` catalog sets. Handlers are upserts, so redelivery is harmless.
Instances share one durable per feed (they share the tables).
"""

from __future__ import annotations

import re

from matinee.platform.events import EventBus, Subscription
from matinee.services.catalog.events import TitleUpserted
from matinee.services.media.events import AssetReady
from matinee.services.playback.domain.model import Asset, Rung
from matinee.services.playback.domain.ports import PlaybackStore

__all__ = ["asset_of", "follow_assets", "follow_titles"]

_ASSET_REF = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def asset_of(event: AssetReady) -> Asset:
    """Return the asset an ``asset_ready`` event announces, rungs smallest first."""
    rungs = sorted(
        (
            Rung(
                r.name,
                r.width,
                r.height,
                r.bitrate_kbps,
                r.average_bitrate_kbps,
                r.codecs,
                r.frame_rate,
            )
            for r in event.rungs
        ),
        key=lambda r: (r.height, r.bitrate_kbps),
    )
    return Asset(
        asset_id=event.asset_id,
        title_id=event.title_id,
        duration_s=event.duration_s,
        rungs=tuple(rungs),
        hls=event.hls,
        dash=event.dash,
    )


async def follow_assets(bus: EventBus, store: PlaybackStore) -> Subscription:
    """Keep the assets table current from ``matinee.media.asset_ready``."""

    async def on_asset(event: AssetReady) -> None:
        await store.put_asset(asset_of(event))

    return await bus.subscribe(AssetReady.type, "playback-assets", on_asset, schemas=[AssetReady])


async def follow_titles(bus: EventBus, store: PlaybackStore) -> Subscription:
    """Map titles to assets from catalog's ``asset_ref`` (titles without one are skipped)."""

    async def on_title(event: TitleUpserted) -> None:
        if event.asset_ref and _ASSET_REF.match(event.asset_ref):
            await store.map_title(event.title_id, event.asset_ref)

    return await bus.subscribe(
        TitleUpserted.type, "playback-titles", on_title, schemas=[TitleUpserted]
    )
