"""Search's pure domain: folding, the typo rule, the immutable index and its live swap."""

from matinee.services.search.domain.index import MAX_LEVEL, Candidate, TitleIndex
from matinee.services.search.domain.live import IndexView, LiveIndex
from matinee.services.search.domain.model import (
    MATURITY_CEILINGS,
    Facets,
    Hit,
    SearchPage,
    Taste,
    TitleDoc,
    rating_level,
)
from matinee.services.search.domain.ports import TitleFeed
from matinee.services.search.domain.text import display_title, fold_words
from matinee.services.search.domain.typo import distance, typo_budget

__all__ = [
    "MATURITY_CEILINGS",
    "MAX_LEVEL",
    "Candidate",
    "Facets",
    "Hit",
    "IndexView",
    "LiveIndex",
    "SearchPage",
    "Taste",
    "TitleDoc",
    "TitleFeed",
    "TitleIndex",
    "display_title",
    "distance",
    "fold_words",
    "rating_level",
    "typo_budget",
]
