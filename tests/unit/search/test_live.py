"""Changes become searchable by swapping whole views: readers never see a half-built one."""

from __future__ import annotations

import dataclasses

from matinee.services.search.domain import LiveIndex, TitleDoc, TitleIndex
from tests.unit.search.fixtures import TITLES


def test_staged_titles_appear_at_publish_and_old_views_stay_whole():
    live = LiveIndex(TITLES[:3])
    before = live.view
    live.stage([TITLES[5]], position=4)
    assert live.view.suggest("termin", 10) == []  # staged, not yet visible
    after = live.publish()
    assert [h.title for h in after.suggest("termin", 10)] == ["The Terminator"]
    # A request still holding the old view sees exactly what it saw before.
    assert before.suggest("termin", 10) == []
    assert len(before) == 3 and len(after) == 4 and after.position == 4


def test_a_changed_title_replaces_its_old_entry():
    live = LiveIndex(TITLES)
    renamed = dataclasses.replace(TITLES[0], title="The Matrix Resurrections", popularity=1.0)
    live.stage([renamed], position=12)
    view = live.publish()
    assert [h.title for h in view.suggest("the matrix", 10)] == [
        "The Matrix Reloaded",
        "The Matrix Resurrections",
    ]
    assert view.search("matrix").total == 2


def test_compaction_swaps_in_a_new_base_keeping_later_changes():
    live = LiveIndex(TITLES[:2], compact_at=1)
    live.stage([TITLES[2]], position=3)
    live.publish()
    assert live.wants_compaction
    docs, token = live.compaction()
    live.stage([TITLES[3]], position=4)  # arrives while the base is being built
    view = live.install(TitleIndex(docs), token)
    assert len(view.base) == 3 and len(view.overlay) == 1
    assert [h.title for h in view.suggest("zatoichi", 10)] == ["Zatôichi"]
    assert [h.title for h in view.suggest("spiderman", 10)] == ["Spider-Man"]


def test_overlay_and_base_merge_by_rank():
    live = LiveIndex(TITLES)
    live.stage([TitleDoc(99, "The Matrix Online", 2005, 950.0)], position=20)
    view = live.publish()
    # The exact title first; then the overlay's more popular title above the base's.
    assert [h.title for h in view.suggest("the matrix", 3)] == [
        "The Matrix",
        "The Matrix Online",
        "The Matrix Reloaded",
    ]
