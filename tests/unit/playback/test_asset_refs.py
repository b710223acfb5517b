"""How titles get their video: catalog follows media's asset_ready; the seed maps its clips."""

from __future__ import annotations

from pathlib import Path

from matinee.platform.events import InMemoryBus
from matinee.seed.clips import Clip, map_titles
from matinee.services.catalog.app import follow_assets
from matinee.services.catalog.domain.memory import InMemoryTitles
from matinee.services.catalog.domain.model import Title
from matinee.services.media.events import AssetReady


async def test_catalog_sets_asset_ref_when_media_announces_the_asset():
    bus = InMemoryBus()
    titles = InMemoryTitles([Title(id=1, name="Toy Story")])
    await follow_assets(bus, titles)
    await bus.publish(AssetReady(asset_id="0123456789abcdef", title_id=1, duration_s=5.0))
    await bus.publish(AssetReady(asset_id="0123456789abcdef", title_id=404, duration_s=5.0))
    assert (await titles.get(1)).asset_ref == "0123456789abcdef"
    announced = [e for e in bus.published if e.type == "matinee.catalog.title_upserted"]
    assert [e.asset_ref for e in announced] == ["0123456789abcdef"]
    assert not bus.dead_letters  # an unknown title is skipped, not retried forever


def test_the_seed_maps_its_clips_to_the_most_popular_title_of_each_name():
    titles = [
        {"id": 1, "name": "Toy Story", "popularity": 90.0},
        {"id": 9, "name": "Toy Story", "popularity": 1.0},
        {"id": 2, "name": "Forrest Gump", "popularity": 80.0},
        {"id": 3, "name": "Heat", "popularity": 70.0},
    ]
    clips = [Clip("bigbuckbunny", Path("b.mp4"), "aaaaaaaaaaaaaaaa"),
             Clip("pattern", Path("p.mp4"), "bbbbbbbbbbbbbbbb")]  # fmt: skip
    mapped = map_titles(titles, clips)
    assert {t: c.name for t, c in mapped.items()} == {1: "bigbuckbunny", 2: "pattern"}
    assert titles[0]["asset_ref"] == "aaaaaaaaaaaaaaaa" and "asset_ref" not in titles[1]
    assert "asset_ref" not in titles[3]
