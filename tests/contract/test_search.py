"""SearchClient and raw HTTP against the real search app: answers, bad input, any Unicode."""

from __future__ import annotations

import httpx
import pytest

from matinee.platform.discovery import Instance, StaticDiscovery
from matinee.platform.http import HttpPool, ServiceClient
from matinee.services.search.app import create_app
from matinee.services.search.client import SearchClient
from matinee.services.search.settings import SearchSettings
from matinee.services.search.storage import MemoryTitleFeed
from tests.conftest import signed_headers
from tests.contract.conftest import serve
from tests.unit.search.fixtures import TITLES


@pytest.fixture
async def base_url(tmp_path):
    app = create_app(SearchSettings(data_dir=tmp_path), feed=MemoryTitleFeed(TITLES))
    async with serve(app) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def http(base_url):
    async with httpx.AsyncClient(base_url=base_url, headers=signed_headers()) as client:
        yield client


async def test_client_suggests_and_searches(base_url):
    port = int(base_url.rsplit(":", 1)[1])
    async with HttpPool() as pool:
        resolver = StaticDiscovery([Instance("search", "search-1", "127.0.0.1", port)])
        search = SearchClient(ServiceClient("search", resolver=resolver, transport=pool))
        found = await search.suggest("the matrx", limit=5, profile="p1")
        assert [(s.id, s.title, s.year) for s in found] == [
            (1, "The Matrix", 1999),
            (2, "The Matrix Reloaded", 2003),
        ]
        assert [found[0].title[a:b] for a, b in found[0].spans] == ["The", "Matrix"]
        page = await search.search("the", genre="Action", page_size=2)
        assert page.total == 3 and [i.title for i in page.items] == ["The Matrix", "The Terminator"]
        assert {f.name: f.count for f in page.facets["genres"]}["Drama"] == 1
        kids = await search.suggest("ma", max_maturity="kids")
        assert [s.title for s in kids] == ["Mary Poppins"]


async def test_requests_without_a_signed_identity_are_refused(base_url):
    async with httpx.AsyncClient(base_url=base_url) as anonymous:
        assert (await anonymous.get("/suggest", params={"q": "mat"})).status_code == 401


async def test_readiness_follows_the_index(http):
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["index"] == "ok"


@pytest.mark.parametrize("path", ["/suggest", "/search"])
async def test_empty_query_is_an_empty_answer(http, path):
    for params in ({}, {"q": ""}, {"q": "   "}):
        response = await http.get(path, params=params)
        assert response.status_code == 200 and response.json()["items"] == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/suggest", {"q": "a" * 201}),
        ("/search", {"q": "é" * 201}),
        ("/suggest", {"q": "mat", "limit": "0"}),
        ("/suggest", {"q": "mat", "limit": "51"}),
        ("/suggest", {"q": "mat", "limit": "ten"}),
        ("/search", {"q": "mat", "page": "0"}),
        ("/search", {"q": "mat", "decade": "1995"}),
        ("/suggest", {"q": "mat", "max_maturity": "toddler"}),
    ],
)
async def test_bad_input_is_a_400_problem(http, path, params):
    response = await http.get(path, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_query_of_exactly_200_characters_is_fine(http):
    assert (await http.get("/suggest", params={"q": "a" * 200})).status_code == 200


# Sent as raw query strings, exactly as a browser or a fuzzer would put them in a URL.
UNICODE_FUZZ = [
    "%F0%9F%8E%AC%F0%9F%8D%BF",  # emoji
    "%D7%A9%D7%9C%D7%95%D7%9D",  # Hebrew (right to left)
    "%E2%80%AEmatrix",  # right-to-left override
    "e%CC%81%CC%81%CC%81",  # stacked combining marks
    "%00%01%1F%7F",  # control characters
    "%ED%A0%80",  # a lone surrogate, UTF-8 encoded (invalid UTF-8)
    "%ED%B0%80abc",
    "%FF%FE%FD",  # bytes that are no UTF-8 at all
    "%",  # a broken escape
    "%E0%A4%A8%E0%A4%AE%E0%A4%B8%E0%A5%8D%E0%A4%A4%E0%A5%87",  # Devanagari
    "%E4%B8%83%E4%BA%BA%E3%81%AE%E4%BE%8D",  # Japanese
    "%F0%A0%80%80",  # outside the basic plane
    "%EF%BF%BF%EF%BF%BE",  # non-characters
    "matrix%00reloaded",
    "%22%27%3C%3E%26%3B",
]


@pytest.mark.parametrize("raw", UNICODE_FUZZ)
@pytest.mark.parametrize("path", ["/suggest", "/search"])
async def test_any_unicode_never_fails(http, path, raw):
    response = await http.get(f"{path}?q={raw}")
    assert response.status_code == 200
    assert isinstance(response.json()["items"], list)
