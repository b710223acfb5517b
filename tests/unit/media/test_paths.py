"""Path safety of the origin store: nothing outside the store is ever reached."""

from __future__ import annotations

import os

import pytest

from matinee.services.media.domain import UnsafePath, safe_parts
from matinee.services.media.storage import ObjectNotFound, OriginStore

ASSET = "0123456789abcdef"


@pytest.mark.parametrize(
    "path",
    [
        "",
        "..",
        "../secret",
        "720p/../../secret",
        "/etc/passwd",
        "720p//seg_1.m4s",
        "./master.m3u8",
        "%2e%2e/secret",
        "..%2fsecret",
        "720p\\..\\secret",
        ".hidden",
        "a\x00b",
        "a/b/c/d/e",
        "x" * 600,
    ],
)
def test_unsafe_paths_are_refused(path):
    with pytest.raises(UnsafePath):
        safe_parts(path)


def test_object_paths_media_writes_are_safe():
    assert safe_parts("720p/seg_12.m4s") == ("720p", "seg_12.m4s")
    assert safe_parts("master.m3u8") == ("master.m3u8",)


@pytest.fixture
def store(tmp_path):
    store = OriginStore(tmp_path / "origin")
    store.start()
    staging = store.staging(ASSET)
    (staging / "720p").mkdir()
    (staging / "720p" / "seg_1.m4s").write_bytes(b"segment")
    (staging / "ladder.json").write_text(f'{{"asset_id": "{ASSET}"}}')
    assert store.publish(staging, ASSET)
    (tmp_path / "secret.txt").write_text("top secret")
    return store


def test_the_store_resolves_its_own_objects(store):
    assert store.resolve(ASSET, "720p/seg_1.m4s").read_bytes() == b"segment"
    assert store.ladder(ASSET) == {"asset_id": ASSET}


def test_a_symlink_leading_out_of_the_asset_is_not_followed(store, tmp_path):
    os.symlink(tmp_path / "secret.txt", store.asset_dir(ASSET) / "leak.m4s")
    os.symlink(tmp_path, store.asset_dir(ASSET) / "up")
    for path in ("leak.m4s", "up/secret.txt"):
        with pytest.raises(ObjectNotFound):
            store.resolve(ASSET, path)


@pytest.mark.parametrize("asset", ["../origin", ".staging", "0123456789ABCDEF", "x", ""])
def test_only_asset_ids_name_assets(store, asset):
    with pytest.raises(ObjectNotFound):
        store.resolve(asset, "ladder.json")


def test_directories_are_not_objects(store):
    with pytest.raises(ObjectNotFound):
        store.resolve(ASSET, "720p")


def test_publishing_an_asset_twice_keeps_the_first_and_drops_the_second(store):
    again = store.staging(ASSET)
    (again / "ladder.json").write_text("{}")
    assert store.publish(again, ASSET) is False
    assert not again.exists()
    assert store.ladder(ASSET) == {"asset_id": ASSET}
