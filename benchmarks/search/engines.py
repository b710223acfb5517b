"""The three engines under test, each answering ``top(query) -> [doc id]`` (10 best).

Both peers are tuned the same way as Matinee's own ranking: matches ranked by
popularity with a bonus for a title that starts with the query, the last word a
prefix, accents folded on both sides.

- SQLite FTS5: ``unicode61 remove_diacritics 2`` with prefix indexes; every word a term,
  the last one ``"word"*``; ORDER BY (title starts with the query), votes DESC.
- tantivy: every word a ``FuzzyTermQuery`` with Meilisearch's typo rule (1 from 5
  letters, 2 from 9, transposition = 1), the last one a fuzzy *prefix*, all must match;
  the 200 most popular matches re-ranked by the same title-start bonus.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Callable

from matinee.services.search.domain import TitleDoc, TitleIndex, fold_words, typo_budget

__all__ = ["ENGINES", "build"]

Top = Callable[[str], list[int]]


def _ascii(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).lower()


def build_matinee(docs: list[TitleDoc]) -> Top:
    index = TitleIndex(docs)

    def top(q: str) -> list[int]:
        return [h.id for h in index.suggest(q, 10)]

    return top


def build_fts5(docs: list[TitleDoc]) -> Top:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(title, pop UNINDEXED, plain UNINDEXED,"
        " tokenize='unicode61 remove_diacritics 2', prefix='1 2 3 4')"
    )
    db.executemany(
        "INSERT INTO t(rowid, title, pop, plain) VALUES (?, ?, ?, ?)",
        ((d.id, d.title, d.popularity, _ascii(d.title)) for d in docs),
    )
    db.commit()
    sql = (
        "SELECT rowid FROM t WHERE t MATCH ? ORDER BY (substr(plain, 1, ?) = ?) DESC,"
        " pop DESC LIMIT 10"
    )

    def top(q: str) -> list[int]:
        words = re.findall(r"\w+", _ascii(q))
        if not words:
            return []
        match = " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'
        start = _ascii(q)
        try:
            return [r[0] for r in db.execute(sql, (match.strip(), len(start), start))]
        except sqlite3.OperationalError:
            return []

    return top


def build_tantivy(docs: list[TitleDoc]) -> Top:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("title", stored=False)
    builder.add_float_field("pop", stored=True, fast=True)
    builder.add_integer_field("id", stored=True, fast=True)
    builder.add_text_field("plain", stored=True, index_option="basic", tokenizer_name="raw")
    schema = builder.build()
    index = tantivy.Index(schema)
    writer = index.writer(heap_size=200_000_000)
    for d in docs:
        plain = _ascii(d.title)
        writer.add_document(tantivy.Document(title=plain, pop=d.popularity, id=d.id, plain=plain))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    must = tantivy.Occur.Must

    def top(q: str) -> list[int]:
        words = re.findall(r"[a-z0-9]+", _ascii(q))
        if not words:
            return []
        clauses = [
            (
                must,
                tantivy.Query.fuzzy_term_query(
                    schema, "title", w, typo_budget(w), True, i == len(words) - 1
                ),
            )
            for i, w in enumerate(words)
        ]
        query = tantivy.Query.boolean_query(clauses)
        hits = searcher.search(query, 200, count=False, order_by_field="pop").hits
        start = _ascii(q)
        found = []
        for pop, address in hits:
            doc = searcher.doc(address)
            found.append((not doc["plain"][0].startswith(start), -pop, doc["id"][0]))
        found.sort()
        return [f[2] for f in found[:10]]

    return top


ENGINES = {"matinee": build_matinee, "fts5": build_fts5, "tantivy": build_tantivy}


def build(name: str, docs: list[TitleDoc]) -> Top:
    """Return the engine called ``name`` built over ``docs``."""
    return ENGINES[name](docs)


assert fold_words  # Matinee's folding is what its own engine uses; peers use their own
