"""The gateway serves the web app's files: right types, revalidation, nothing outside."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from matinee.services.gateway.api.web import build_web_routes, find_web_root


@pytest.fixture
def site(tmp_path: Path) -> TestClient:
    web = tmp_path / "web"
    (web / "assets" / "js").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>Matinee</title>")
    (web / "assets" / "app.css").write_text("body{}")
    (web / "assets" / "js" / "main.js").write_text("export {};")
    (web / "assets" / ".secret").write_text("hidden")
    (tmp_path / "outside.txt").write_text("not for you")
    (web / "assets" / "escape.txt").symlink_to(tmp_path / "outside.txt")
    hls = tmp_path / "node_modules" / "hls.js" / "dist"
    hls.mkdir(parents=True)
    (hls / "hls.min.mjs").write_text("export default class Hls {}")
    return TestClient(Starlette(routes=build_web_routes(web, hls)))


def test_index_and_assets_have_their_content_types(site: TestClient) -> None:
    index = site.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in index.headers["content-security-policy"]
    assert site.get("/assets/js/main.js").headers["content-type"].startswith("text/javascript")
    assert site.get("/assets/app.css").headers["content-type"].startswith("text/css")
    vendor = site.get("/vendor/hls/hls.min.mjs")
    assert vendor.headers["content-type"].startswith("text/javascript")
    assert "max-age" in vendor.headers["cache-control"]


def test_an_unchanged_file_is_revalidated_with_304(site: TestClient) -> None:
    first = site.get("/assets/app.css")
    assert first.headers["cache-control"] == "no-cache"
    again = site.get("/assets/app.css", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_head_answers_the_length_without_a_body(site: TestClient) -> None:
    head = site.head("/assets/app.css")
    assert head.status_code == 200
    assert head.headers["content-length"] == "6"
    assert head.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/assets/%2e%2e/%2e%2e/outside.txt",
        "/assets/.secret",
        "/assets/escape.txt",
        "/assets/js",
        "/assets/missing.js",
        "/vendor/hls/../../../outside.txt",
    ],
)
def test_nothing_outside_the_mounted_files_is_served(site: TestClient, path: str) -> None:
    answer = site.get(path)
    assert answer.status_code == 404
    assert b"not for you" not in answer.content


def test_the_checkout_holds_the_web_app() -> None:
    root = find_web_root()
    assert root is not None
    assert (root / "web" / "index.html").is_file()
