"""The immutable title index: built once, queried by any number of requests at once.

Layout (all compact, no per-entry objects beyond the term strings):

- documents are numbered by popularity, most popular first, so every posting list
  (an ``array('i')`` of document numbers in ascending order) is in popularity order;
- ``terms`` is the sorted vocabulary; a prefix is a contiguous range found by
  ``bisect``, ``_cum`` (running totals of posting lengths) sizes a range in O(1), and
  ``_flat`` holds every posting list end to end, so a range's postings are one slice;
- a forward index (each document's term numbers, field-tagged and sorted) answers "does
  this document hold this word" by binary search;
- typos: a symmetric-deletion index (sorted 64-bit ``hash(key) << 20 | term``) bounded
  by the Meilisearch rule; candidates are verified with a banded edit distance;
- title starts: the sorted folded titles (display, original, alternate, joined forms),
  with the most popular documents precomputed for every prefix wider than 64 titles.

Ranking (``_rank``): fewer typos, the exact title, title before cast, then a score of log
popularity plus bonuses (``START_FACTOR``, ``WHOLE_WORD_FACTOR``, a profile's ``Taste``).
Suggest reads matches from streams in popularity order, one per bonus, and stops when no
stream can beat the ``limit``-th best: the same top as ranking every match.

| usage | gives |
|---|---|
| ``index = TitleIndex.build(docs)`` | an immutable index |
| ``index.suggest("matrx re", 10)`` | ranked hits, best first |
| ``index.suggest("matr", 10, taste=Taste({603: 10.0}))`` | the same, with a personal hint |
| ``index.search("matrix", genre="Action", decade=1990, page=1)`` | a page with facets |
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
import numpy.typing as npt

from matinee.services.search.domain.model import (
    MAX_GENRE_FACTOR,
    MAX_TITLE_FACTOR,
    Facets,
    Hit,
    RankKey,
    SearchPage,
    Taste,
    TitleDoc,
    rank_key,
    rating_level,
)
from matinee.services.search.domain.text import (
    display_title,
    fold_words,
    joined_words,
    prefix_end,
    word_spans,
)
from matinee.services.search.domain.typo import deletions, distance, typo_budget

__all__ = ["MAX_LEVEL", "START_FACTOR", "WHOLE_WORD_FACTOR", "Candidate", "TitleIndex"]

# Ranking, after fewer typos and an exact whole title: a score of log popularity plus
# bonuses. A title that starts with what was typed counts as if it were this many times
# as popular, so an obscure title starting with "lost" does not bury "Raiders of the Lost
# Ark", while among titles of like popularity the one starting with the query wins.
START_FACTOR = 100.0
# ... and a title holding the last typed word whole (not only as a prefix) this many
# times: "list" finds "Schindler's List" before "Listen to Me" of similar fame.
WHOLE_WORD_FACTOR = 10.0
_START = math.log(START_FACTOR)
_WHOLE_WORD = math.log(WHOLE_WORD_FACTOR)

MAX_LEVEL = 5
_END = chr(0x10FFFF)
_HASH_MASK = (1 << 43) - 1
_TERM_BITS = 20
# Precompute the most popular documents of a prefix matched by more than this many titles.
_WIDE_START = 64
_WIDE_TERMS = 256
_TOP = 64
# A query word matching at most this many postings is checked through a set.
_SET_MAX = 4096
# The typo phase gives up on a driver word matching more postings than this.
_TYPO_SCAN_MAX = 200_000
# "No match" in a vector of typo counts (any real count is at most 2 per word).
_NO_MATCH = 99
# Up to this many candidates and term lists, membership is a binary search per list.
_PROBE_MAX = 64
# Several words whose rarest matches more postings than this are intersected vectorised.
_VECTOR_MIN = 256
# At most this many terms per one-typo prefix variant (a variant is a prefix of its range).
_PREFIX_TYPO_TERMS = 200


@dataclass(frozen=True, slots=True)
class Candidate:
    """A matching document and what ranks it (see ``_rank``)."""

    typos: int
    tier: int  # 0 title starts with the query, 1 every word in a title, 2 through the cast
    doc: int
    score: float = 0.0  # log popularity plus the start, whole-word and taste bonuses
    exact_title: bool = False  # a form of the title is exactly the query
    slack: int = 0  # found by the relaxed typo rule (see ``TitleIndex.candidates``)


@dataclass(slots=True)
class _Word:
    text: str
    last: bool
    lo: int  # zero-typo term range [lo, hi): the exact term, or every term it prefixes
    hi: int
    estimate: int  # postings in [lo, hi)
    budget: int  # typos this word may carry
    typo: dict[int, int] | None = None  # term -> typos, outside [lo, hi); filled when needed
    estimate_all: int = 0  # postings including the typo terms
    _zero: set[int] | None = None

    def zero_docs(self, index: TitleIndex) -> set[int]:
        """Return (and remember) every document matching this word without typos."""
        if self._zero is None:
            # A term range's postings lie side by side in the flat array: one C call.
            self._zero = set(index._flat[index._cum[self.lo] : index._cum[self.hi]])
        return self._zero


class TitleIndex:
    """An immutable index of titles; see the module docstring for its layout."""

    def __init__(self, docs: Sequence[TitleDoc]) -> None:
        self.docs: tuple[TitleDoc, ...] = tuple(sorted(docs, key=lambda d: (-d.popularity, d.id)))
        self.by_id: dict[int, int] = {d.id: n for n, d in enumerate(self.docs)}
        self.levels = bytes(min(rating_level(d.maturity_rating), MAX_LEVEL) for d in self.docs)
        self.log_popularity = array("d", (math.log1p(max(d.popularity, 0.0)) for d in self.docs))
        # Without any cast, no match can be "through the cast": the field check is skipped.
        self._has_cast = any(d.cast for d in self.docs)
        self._build_terms()
        self._build_starts()
        self._build_typos()

    @classmethod
    def build(cls, docs: Iterable[TitleDoc]) -> TitleIndex:
        """Return an index of ``docs``; a later doc with the same id replaces an earlier one."""
        latest: dict[int, TitleDoc] = {}
        for doc in docs:
            latest[doc.id] = doc
        return cls(list(latest.values()))

    def __len__(self) -> int:
        return len(self.docs)

    # -- building ----------------------------------------------------------------------

    def _build_terms(self) -> None:
        by_term: dict[str, list[int]] = {}
        per_doc: list[dict[str, int]] = []
        for n, doc in enumerate(self.docs):
            fields: dict[str, int] = {}
            for text in _title_texts(doc):
                for word in (*fold_words(text), *joined_words(text)):
                    fields[word] = 0
            for name in doc.cast:
                for word in (*fold_words(name), *joined_words(name)):
                    fields.setdefault(word, 1)
            per_doc.append(fields)
            for word in fields:
                by_term.setdefault(word, []).append(n)
        self.terms: list[str] = sorted(by_term)
        tid_of = {t: i for i, t in enumerate(self.terms)}
        self._postings: list[array[int]] = [array("i", by_term[t]) for t in self.terms]
        cum = array("q", [0])
        total = 0
        for plist in self._postings:
            total += len(plist)
            cum.append(total)
        self._cum = cum
        # Every posting list end to end, in vocabulary order: a prefix's postings in one slice.
        flat = array("i")
        for plist in self._postings:
            flat.extend(plist)
        self._flat = flat
        self._flat_np = np.frombuffer(flat, dtype=np.int32) if flat else np.zeros(0, np.int32)
        self._levels_np = np.frombuffer(self.levels, dtype=np.uint8)
        forward = array("i")
        offsets = array("i", [0])
        for fields in per_doc:
            forward.extend(sorted(tid_of[w] * 2 + cast for w, cast in fields.items()))
            offsets.append(len(forward))
        self._forward = forward
        self._offsets = offsets
        self._wide_terms: dict[str, array[int]] = {}
        self._collect_wide_terms(0, len(self.terms), 0)

    def _collect_wide_terms(self, lo: int, hi: int, depth: int) -> None:
        # Walk the implicit trie of the sorted vocabulary, splitting ranges with bisect.
        terms, cum = self.terms, self._cum
        i = lo
        while i < hi:
            term = terms[i]
            if len(term) <= depth:
                i += 1
                continue
            prefix = term[: depth + 1]
            end = bisect_left(terms, prefix + _END, i, hi)
            if cum[end] - cum[i] > _WIDE_TERMS:
                merged = heapq.merge(*(self._postings[t] for t in range(i, end)))
                self._wide_terms[prefix] = array("i", islice(_unique(merged), _TOP))
                self._collect_wide_terms(i, end, depth + 1)
            i = end

    def _build_starts(self) -> None:
        pairs = sorted({(form, n) for n, doc in enumerate(self.docs) for form in _start_forms(doc)})
        self._starts: list[str] = [p[0] for p in pairs]
        self._start_docs = array("i", [p[1] for p in pairs])
        self._wide_starts: dict[str, array[int]] = {}
        self._collect_wide_starts(0, len(self._starts), 0)

    def _collect_wide_starts(self, lo: int, hi: int, depth: int) -> None:
        starts = self._starts
        i = lo
        while i < hi:
            text = starts[i]
            if len(text) <= depth:
                i += 1
                continue
            prefix = text[: depth + 1]
            end = bisect_left(starts, prefix + _END, i, hi)
            if end - i > _WIDE_START:
                top = heapq.nsmallest(_TOP * 2, self._start_docs[i:end])
                self._wide_starts[prefix] = array("i", islice(_unique(top), _TOP))
                self._collect_wide_starts(i, end, depth + 1)
            i = end

    def _build_typos(self) -> None:
        # A term of length L can be within 1 typo of a 5+ letter query from L >= 4, and
        # within 2 typos of a 9+ letter query from L >= 7: index deeper deletions only there.
        keys = array("q")
        for tid, term in enumerate(self.terms):
            n = len(term)
            depth = 2 if n >= 7 else 1 if n >= 4 else 0
            if depth == 0:
                continue
            for key in deletions(term, depth):
                keys.append(((hash(key) & _HASH_MASK) << _TERM_BITS) | tid)
        self._typo_keys = array("q", sorted(keys))

    # -- matching ----------------------------------------------------------------------

    def _word(self, text: str, last: bool, slack: int = 0) -> _Word:
        terms = self.terms
        lo = bisect_left(terms, text)
        if last:
            hi = bisect_left(terms, text + _END, lo)
        else:
            hi = lo + 1 if lo < len(terms) and terms[lo] == text else lo
        return _Word(text, last, lo, hi, self._cum[hi] - self._cum[lo], typo_budget(text, slack))

    def _add_typos(self, word: _Word) -> None:
        """Find the terms within the word's typo budget (only when exact matches ran out)."""
        if word.typo is not None:
            return
        text, lo, hi, terms = word.text, word.lo, word.hi, self.terms
        typo: dict[int, int] = {}
        word.typo = typo
        word.estimate_all = word.estimate
        budget = word.budget
        if not budget:
            return
        keys, shift = self._typo_keys, _TERM_BITS
        mask = (1 << shift) - 1
        seen: set[int] = set()
        for key in deletions(text, budget):
            h = (hash(key) & _HASH_MASK) << shift
            i = bisect_left(keys, h)
            while i < len(keys) and keys[i] - h <= mask:
                seen.add(keys[i] & mask)
                i += 1
        extra = 0
        for tid in seen:
            if lo <= tid < hi:
                continue
            d = distance(text, terms[tid], budget)
            if d <= budget:
                typo[tid] = d
                extra += len(self._postings[tid])
        if word.last and lo == hi:
            # A word still being typed that begins no term at all may carry a typo in what
            # is typed so far. One that begins real terms is being typed right: its typo
            # terms above are enough, and the costly one-edit prefix walk is skipped.
            extra += self._prefix_typos(text, lo, hi, typo)
        word.estimate_all += extra

    def _prefix_typos(self, text: str, lo: int, hi: int, typo: dict[int, int]) -> int:
        """Add terms one typo away from *starting* with ``text`` (a word still being typed).

        Every string one edit from a prefix of a term is built from ``text`` by deleting
        or swapping a character, or by putting one of the letters the vocabulary really
        has at that position in place of (or before) a character; each variant is a
        prefix range found by bisection, so nothing needs verifying.
        """
        terms = self.terms
        variants = {text[:i] + text[i + 1 :] for i in range(len(text))}
        variants.update(
            text[:i] + text[i + 1] + text[i] + text[i + 2 :] for i in range(len(text) - 1)
        )
        # The first letter of a word being typed is taken as typed: it halves the work.
        for i in range(1, len(text)):
            base = text[:i]
            j = bisect_left(terms, base)
            end = bisect_left(terms, base + _END, j)
            while j < end:
                if len(terms[j]) <= i:
                    j += 1
                    continue
                c = terms[j][i]
                if c != text[i]:
                    variants.add(base + c + text[i + 1 :])
                variants.add(base + c + text[i:])
                j = bisect_left(terms, base + c + _END, j, end)
        variants.discard(text)
        added = 0
        count = len(terms)
        postings = self._postings
        for variant in variants:
            if len(variant) < 3:
                continue
            tid = bisect_left(terms, variant)
            stop = tid + _PREFIX_TYPO_TERMS
            while tid < count and tid < stop and terms[tid].startswith(variant):
                if not lo <= tid < hi and tid not in typo:
                    typo[tid] = 1
                    added += len(postings[tid])
                tid += 1
        return added

    def _words(self, query: str, slack: int = 0) -> tuple[list[str], list[_Word]]:
        folded = fold_words(query)
        # A space after the last word says it is finished: it no longer matches as a prefix.
        open_end = len(folded) - 1 if query[-1:].isalnum() or not query[-1:].isspace() else -1
        return folded, [self._word(w, i == open_end, slack) for i, w in enumerate(folded)]

    def _doc_typos(
        self, doc: int, word: _Word, cache: dict[int, int] | None = None
    ) -> tuple[int, int]:
        """Return (typos, cast) of the best match of ``word`` in ``doc``, typos -1 if none.

        A term's typos come from the word's typo set when it was found, else they are
        measured against the term itself (remembered in ``cache``, one per word).
        """
        best, cast = -1, 1
        lo, hi, typo = word.lo, word.hi, word.typo
        lazy = {} if cache is None else cache
        forward = self._forward
        for k in range(self._offsets[doc], self._offsets[doc + 1]):
            code = forward[k]
            tid = code >> 1
            if lo <= tid < hi:
                d = 0
            elif typo is not None:
                d = typo.get(tid, -1)
            else:
                d = lazy.get(tid, -2)
                if d == -2:
                    d = lazy[tid] = self._term_typos(word, self.terms[tid])
            if d < 0:
                continue
            if best < 0 or d < best or (d == best and (code & 1) < cast):
                best, cast = d, code & 1
        return best, cast

    def _title_starts(self, folded: str) -> Iterator[int]:
        """Yield documents whose title starts with ``folded``, most popular first."""
        starts = self._starts
        lo = bisect_left(starts, folded)
        hi = bisect_left(starts, folded + _END, lo)
        if hi - lo > _WIDE_START:
            top = self._wide_starts.get(folded)
            if top is not None:
                yield from top
                rest = heapq.nsmallest(hi - lo, self._start_docs[lo:hi])
                yield from (d for d in _unique(rest) if d > top[-1])
                return
        yield from _unique(sorted(self._start_docs[lo:hi]))

    def _closed_starts(self, whole: str) -> Iterator[int]:
        """Yield documents whose title is ``whole`` or starts with it as whole words."""
        return _unique(heapq.merge(self._exact_titles(whole), self._title_starts(whole + " ")))

    def _all_words(self, order: list[_Word]) -> npt.NDArray[np.int32]:
        """Return the documents holding every word (no typos), ascending; rarest word first.

        Vectorised: the rarest word's documents are filtered by each other word in turn,
        through a binary search of a single term's postings or a bitmap of a term range.
        """
        flat, cum = self._flat_np, self._cum
        driver = order[0]
        part = flat[cum[driver.lo] : cum[driver.hi]]
        docs = part if driver.hi - driver.lo == 1 else np.unique(part)
        for word in order[1:]:
            if not len(docs):
                break
            part = flat[cum[word.lo] : cum[word.hi]]
            if word.hi - word.lo == 1:
                at = np.searchsorted(part, docs)
                at[at == len(part)] = 0
                docs = docs[part[at] == docs]
            else:
                bitmap = np.zeros(len(self.docs), dtype=np.bool_)
                bitmap[part] = True
                docs = docs[bitmap[docs]]
        return docs

    def _driver_docs(self, word: _Word) -> Iterator[int]:
        """Yield every document matching ``word`` without typos, in ascending order."""
        if word.hi - word.lo == 1:
            yield from self._postings[word.lo]
            return
        top = self._wide_terms.get(word.text) if word.last else None
        lists = [self._postings[t] for t in range(word.lo, word.hi)]
        if top is not None:
            yield from top
            if len(top) < _TOP:
                return
            after = top[-1]
            yield from (d for d in _unique(heapq.merge(*lists)) if d > after)
            return
        yield from _unique(heapq.merge(*lists))

    def candidates(
        self,
        query: str,
        need: int | None,
        *,
        max_level: int = MAX_LEVEL,
        skip: frozenset[int] = frozenset(),
        taste: Taste | None = None,
    ) -> tuple[list[str], list[Candidate]]:
        """Return the folded query words and matches, best first; at least ``need`` if any.

        With ``need`` set, the search stops as soon as no later match could rank higher
        (suggest); with ``need=None`` every match is returned (full search). When nothing
        matches, the words are tried once more with the typo budget of one letter longer
        ("Frgo" for "Fargo": the typo that dropped a letter also took the word under the
        rule's length), marked ``slack`` so highlighting applies the same rule.
        """
        folded, found = self._candidates(query, need, max_level, skip, taste, 0)
        if found or not folded:
            return folded, found
        folded, found = self._candidates(query, need, max_level, skip, taste, 1)
        return folded, [dataclasses.replace(c, slack=1) for c in found]

    def _candidates(
        self,
        query: str,
        need: int | None,
        max_level: int,
        skip: frozenset[int],
        taste: Taste | None,
        slack: int,
    ) -> tuple[list[str], list[Candidate]]:
        folded, words = self._words(query, slack)
        if not words:
            return folded, []
        scorer = _Scorer(self, taste)
        found: dict[int, Candidate] = {}
        levels = self.levels
        # The ``need`` best scores among title matches so far: a min-heap whose top is
        # the score a match still to come must beat.
        best: list[float] = []

        def admit(doc: int, tier: int, bonus: float, exact_title: bool = False) -> None:
            score = scorer.score(doc, bonus)
            found[doc] = Candidate(0, tier, doc, score, exact_title)
            if need is not None and tier <= 1:
                key = math.inf if exact_title else score
                if len(best) < need:
                    heapq.heappush(best, key)
                elif key > best[0]:
                    heapq.heapreplace(best, key)

        whole = " ".join(folded)
        closed = not words[-1].last
        for doc in self._exact_titles(whole):
            if doc not in skip and levels[doc] <= max_level:
                admit(doc, 0, _START, exact_title=True)
        for doc in scorer.title_docs:
            if doc not in found and doc not in skip and levels[doc] <= max_level:
                match = self._taste_match(doc, words, whole, closed)
                if match is not None:
                    admit(doc, *match)
        # Streams of matches, each most popular first and each with one bonus. Take from
        # whichever could still score highest; stop when none can beat the ``need``-th
        # best. A match in several streams is reached first through the one with the
        # bigger bonus (its bound there is higher), so the others skip it as found.
        if need is None:
            # Every match is wanted: no stream order to keep, each match scored directly.
            self._all_exact(words, whole, closed, skip, max_level, found, admit)
            self._with_typos(words, found, need, max_level, skip, scorer)
            return folded, sorted(found.values(), key=_rank)
        streams = self._streams(words, whole, closed)
        while True:
            pick, top = None, -math.inf
            for stream in streams:
                if stream.next_doc is not None:
                    bound = scorer.bound(stream.next_doc, stream.bonus)
                    if bound > top:
                        pick, top = stream, bound
            if pick is None or (need is not None and len(best) >= need and top < best[0]):
                break
            taken = pick.take()
            if taken is not None:
                doc, tier = taken
                if doc not in found and doc not in skip and levels[doc] <= max_level:
                    admit(doc, tier, pick.bonus)
        if need is None or len(found) < need:
            self._with_typos(words, found, need, max_level, skip, scorer)
        ranked = sorted(found.values(), key=_rank)
        return folded, ranked if need is None else ranked[: max(need, 0)]

    def _exact_titles(self, whole: str) -> list[int]:
        """Return the documents whose title (any of its forms) is exactly ``whole``."""
        starts = self._starts
        lo = bisect_left(starts, whole)
        hi = bisect_right(starts, whole, lo)
        return sorted(set(self._start_docs[lo:hi]))

    def _streams(self, words: list[_Word], whole: str, closed: bool) -> list[_Stream]:
        """Return one stream per kind of match, each with its bonus (see ``_Stream``)."""
        starts = self._closed_starts if closed else self._title_starts
        streams = [
            _Stream(_START, 0, lambda: ((d, 0) for d in starts(whole))),
            _Stream(
                0.0,
                self._first_doc(words),
                lambda: ((d, 1 + cast) for d, cast in self._exact_matches(words)),
            ),
        ]
        last = words[-1]
        if last.last and last.lo < last.hi and self.terms[last.lo] == last.text:
            # The last word typed is also a word of its own: titles holding it whole
            # ("list" in "Schindler's List") beat those it only begins ("Listen").
            whole_word = [*words[:-1], self._word(last.text, False)]
            streams.append(
                _Stream(
                    _START + _WHOLE_WORD, 0, lambda: ((d, 0) for d in self._closed_starts(whole))
                )
            )
            streams.append(
                _Stream(
                    _WHOLE_WORD,
                    self._first_doc(whole_word),
                    lambda: ((d, 1 + cast) for d, cast in self._exact_matches(whole_word)),
                )
            )
        return streams

    def _all_exact(
        self,
        words: list[_Word],
        whole: str,
        closed: bool,
        skip: frozenset[int],
        max_level: int,
        found: dict[int, Candidate],
        admit: Callable[[int, int, float], None],
    ) -> None:
        """Admit every match without typos, each with the biggest bonus it qualifies for.

        ``found`` holds what was admitted before (exact titles, a hint's titles): kept.
        """
        starts = set(self._closed_starts(whole) if closed else self._title_starts(whole))
        whole_starts: set[int] = set()
        whole_word: set[int] = set()
        last = words[-1]
        if last.last and last.lo < last.hi and self.terms[last.lo] == last.text:
            whole_starts = set(self._closed_starts(whole))
            whole_word = set(self._postings[last.lo])
        levels = self.levels
        for doc, cast in self._exact_matches(words):
            if doc in found or doc in skip or levels[doc] > max_level:
                continue
            if doc in starts:
                admit(doc, 0, _START + _WHOLE_WORD if doc in whole_starts else _START)
            else:
                admit(doc, 1 + cast, _WHOLE_WORD if doc in whole_word else 0.0)

    def _first_doc(self, words: list[_Word]) -> int | None:
        """Return the most popular document that could match every word, None if none can."""
        first = 0
        for word in words:
            if word.lo >= word.hi:
                return None
            if word.hi - word.lo == 1:
                head = self._postings[word.lo][0]
            else:
                top = self._wide_terms.get(word.text)
                # A range without a precomputed top list holds at most _WIDE_TERMS postings.
                head = top[0] if top else min(self._postings[t][0] for t in range(word.lo, word.hi))
            first = max(first, head)
        return first

    def _taste_match(
        self, doc: int, words: list[_Word], whole: str, closed: bool
    ) -> tuple[int, float] | None:
        """Return (tier, bonus) if ``doc`` matches every word without typos, else None."""
        cast = 0
        for word in words:
            via = self._match(doc, word)
            if via < 0:
                return None
            cast |= via
        if cast:
            return 2, 0.0
        last = words[-1]
        whole_word = last.last and self._match(doc, self._word(last.text, False)) == 0
        for folded in _start_forms(self.docs[doc]):
            if folded == whole or folded.startswith(whole + " "):
                return 0, _START + (_WHOLE_WORD if last.last else 0.0)
            if not closed and folded.startswith(whole):
                return 0, _START
        return 1, _WHOLE_WORD if whole_word else 0.0

    def _match(self, doc: int, word: _Word) -> int:
        """Return 0 if ``doc`` has ``word`` (no typos) in a title, 1 only in its cast, -1 not."""
        forward = self._forward
        end = self._offsets[doc + 1]
        i = bisect_left(forward, word.lo * 2, self._offsets[doc], end)
        top = word.hi * 2
        via = -1
        while i < end and forward[i] < top:
            if not forward[i] & 1:
                return 0
            via = 1
            i += 1
        return via

    def _exact_matches(self, words: list[_Word]) -> Iterator[tuple[int, int]]:
        """Yield (document, cast) for every match of all words without typos, best first.

        ``cast`` is 1 when some word is found only in the title's cast.
        """
        if any(w.estimate == 0 for w in words):
            return
        order = sorted(words, key=lambda w: w.estimate)
        driver, others = order[0], order[1:]
        match = self._match
        if others and driver.estimate > _VECTOR_MIN:
            every = self._all_words(order).tolist()
            if not self._has_cast:
                yield from ((doc, 0) for doc in every)
                return
            for doc in every:
                yield doc, max(match(doc, w) for w in words)
            return
        sets = [w.zero_docs(self) if w.estimate <= _SET_MAX else None for w in others]
        docs: Iterable[int] = self._driver_docs(driver)
        for doc in docs:
            for word, word_docs in zip(others, sets, strict=True):
                if word_docs is not None:
                    if doc not in word_docs:
                        break
                elif match(doc, word) < 0:
                    break
            else:
                # Set membership says nothing of fields: ask the doc's own terms (when
                # the catalog has cast at all).
                yield doc, max(match(doc, w) for w in words) if self._has_cast else 0

    def _with_typos(
        self,
        words: list[_Word],
        found: dict[int, Candidate],
        need: int | None,
        max_level: int,
        skip: frozenset[int],
        scorer: _Scorer,
    ) -> None:
        """Add the matches that need typos: every word within its budget, fewest typos first.

        Each word's typo terms come from the deletion index. The word matching fewest
        documents (typos included) gives the candidates; every other word's typo count on
        them is read off bitmaps of its term postings, vectorised; only the candidates
        that make the page are then looked at one by one.
        """
        if not any(w.budget for w in words):
            return  # no word may carry a typo: every match was exact, and is found
        driver = self._typo_driver(words)
        if driver.estimate_all == 0 or driver.estimate_all > _TYPO_SCAN_MAX:
            return
        docs = self._typo_docs(driver)
        total = self._typo_counts(driver, docs)
        for word in sorted((w for w in words if w is not driver), key=lambda w: w.estimate):
            if len(docs) > _PROBE_MAX:
                self._add_typos(word)
                counts = self._typo_counts(word, docs)
            else:
                # A handful of candidates: measure the word against their own terms rather
                # than find every term in the vocabulary within its budget.
                cache: dict[int, int] = {}
                found_typos = [self._doc_typos(doc, word, cache)[0] for doc in docs.tolist()]
                counts = np.array(found_typos, dtype=np.int16)
                counts[counts < 0] = _NO_MATCH
            keep = counts < _NO_MATCH
            docs, total = docs[keep], total[keep] + counts[keep]
            if not len(docs):
                return
        allowed = self._levels_np[docs] <= max_level
        docs, total = docs[allowed], total[allowed]
        ranked = np.lexsort((docs, total))  # fewest typos, then most popular
        good = sum(1 for c in found.values() if c.tier <= 1)
        for doc, typos in zip(docs[ranked].tolist(), total[ranked].tolist(), strict=True):
            if need is not None and good >= need:
                return
            if typos == 0 or doc in found or doc in skip:
                continue  # matches without a typo were all found by the exact phase
            cast = max(self._doc_typos(doc, w)[1] for w in words)
            found[doc] = Candidate(typos, 1 + cast, doc, scorer.score(doc, 0.0))
            if not cast:
                good += 1

    def _typo_driver(self, words: list[_Word]) -> _Word:
        """Return the word matching fewest documents with typos, expanding as few as possible."""
        order = sorted(words, key=lambda w: w.estimate)
        best = order[0]
        self._add_typos(best)
        for word in order[1:]:
            if word.estimate >= best.estimate_all:
                break  # its typo set can only add to what it already matches
            self._add_typos(word)
            if word.estimate_all < best.estimate_all:
                best = word
        return best

    @staticmethod
    def _term_typos(word: _Word, term: str) -> int:
        """Return the typos between a query word and a term within the rule, else -1."""
        text = word.text
        budget = word.budget
        if not budget:
            return -1
        d = distance(text, term, budget)
        if d <= budget:
            return d
        if word.last and term[:1] == text[:1]:
            n = len(text)
            for m in (n - 1, n, n + 1):
                if m < len(term) and distance(text, term[:m], 1) <= 1:
                    return 1
        return -1

    def _typo_parts(self, word: _Word) -> dict[int, list[tuple[int, int]]]:
        """Return typos -> the flat-array slices of the word's terms matching with that many.

        Each slice is one term's postings (sorted), except the zero-typo one of a prefix,
        which spans every term the prefix covers.
        """
        cum = self._cum
        parts: dict[int, list[tuple[int, int]]] = {0: [(cum[word.lo], cum[word.hi])]}
        for tid, typos in (word.typo or {}).items():
            parts.setdefault(typos, []).append((cum[tid], cum[tid + 1]))
        return parts

    def _typo_docs(self, word: _Word) -> npt.NDArray[np.int32]:
        """Return every document matching ``word`` with or without typos, ascending."""
        flat = self._flat_np
        slices = [flat[a:b] for part in self._typo_parts(word).values() for a, b in part]
        return np.unique(np.concatenate(slices))

    def _typo_counts(self, word: _Word, docs: npt.NDArray[np.int32]) -> npt.NDArray[np.int16]:
        """Return the fewest typos with which ``word`` matches each of ``docs`` (or _NO_MATCH)."""
        flat = self._flat_np
        out = np.full(len(docs), _NO_MATCH, dtype=np.int16)
        parts = self._typo_parts(word)
        for typos in sorted(parts, reverse=True):  # most typos first: fewer overwrite them
            slices = [(a, b) for a, b in parts[typos] if b > a]
            if len(docs) <= _PROBE_MAX and len(slices) <= _PROBE_MAX:
                # Few candidates: binary-search each sorted term list (a prefix's zero-typo
                # slice holds several lists, so it is probed as a bitmap below instead).
                single = typos or word.hi - word.lo == 1
                if single:
                    for a, b in slices:
                        postings = flat[a:b]
                        at = np.searchsorted(postings, docs)
                        at[at == len(postings)] = 0
                        out[postings[at] == docs] = typos
                    continue
            bitmap = np.zeros(len(self.docs), dtype=np.bool_)
            for a, b in slices:
                bitmap[flat[a:b]] = True
            out[bitmap[docs]] = typos
        return out

    def hit(self, folded: Sequence[str], candidate: Candidate) -> Hit:
        """Return the hit for a candidate, with the spans of its display title that matched."""
        doc = self.docs[candidate.doc]
        spans = _spans(doc.title, folded, candidate.slack)
        return Hit(
            id=doc.id,
            title=doc.title,
            year=doc.year,
            spans=spans,
            typos=candidate.typos,
            popularity=doc.popularity,
            genres=doc.genres,
            matched="cast" if candidate.tier == 2 else "title",
            tier=candidate.tier,
            score=candidate.score,
            exact_title=candidate.exact_title,
        )

    def suggest(
        self,
        query: str,
        limit: int = 10,
        *,
        max_level: int = MAX_LEVEL,
        skip: frozenset[int] = frozenset(),
        taste: Taste | None = None,
    ) -> list[Hit]:
        """Return up to ``limit`` suggestions for what has been typed so far."""
        folded, found = self.candidates(query, limit, max_level=max_level, skip=skip, taste=taste)
        return [self.hit(folded, c) for c in found[:limit]]

    def search(
        self,
        query: str,
        *,
        genre: str | None = None,
        decade: int | None = None,
        page: int = 1,
        page_size: int = 20,
        max_level: int = MAX_LEVEL,
        skip: frozenset[int] = frozenset(),
        taste: Taste | None = None,
    ) -> SearchPage:
        """Return one page of every match, with genre and decade facets."""
        folded, found = self.candidates(query, None, max_level=max_level, skip=skip, taste=taste)
        return page_of(
            [(c, self.docs[c.doc]) for c in found],
            lambda c: self.hit(folded, c),
            genre=genre,
            decade=decade,
            page=page,
            page_size=page_size,
        )


def page_of(
    ranked: list[tuple[Candidate, TitleDoc]],
    to_hit: Callable[[Candidate], Hit],
    *,
    genre: str | None,
    decade: int | None,
    page: int,
    page_size: int,
) -> SearchPage:
    """Filter ranked (candidate, doc) pairs by genre and decade, count facets, cut a page."""
    genres: dict[str, int] = {}
    decades: dict[int, int] = {}
    kept = []
    for row in ranked:
        doc = row[1]
        in_genre = genre is None or genre in doc.genres
        in_decade = decade is None or doc.decade == decade
        # Each facet counts under the other filter, so picking a genre keeps every decade.
        if in_decade:
            for g in doc.genres:
                genres[g] = genres.get(g, 0) + 1
        if in_genre and doc.decade is not None:
            decades[doc.decade] = decades.get(doc.decade, 0) + 1
        if in_genre and in_decade:
            kept.append(row)
    start = (page - 1) * page_size
    hits = tuple(to_hit(row[0]) for row in kept[start : start + page_size])
    return SearchPage(
        hits=hits,
        total=len(kept),
        page=page,
        page_size=page_size,
        facets=Facets(
            genres=dict(sorted(genres.items(), key=lambda kv: (-kv[1], kv[0]))),
            decades=dict(sorted(decades.items())),
        ),
    )


def _rank(c: Candidate) -> RankKey:
    # Documents are numbered by popularity: the number breaks ties toward the more popular.
    return rank_key(c.typos, c.exact_title, c.tier, c.score, c.doc)


class _Stream:
    """Matches of one kind, most popular first, started only when it could matter.

    Until started, ``next_doc`` is the most popular document it could yield (a bound, so
    a stream no later match can come from never does its set-up work); once started, it
    is the real next document.
    """

    __slots__ = ("_head", "_iterator", "_make", "bonus", "next_doc")

    def __init__(
        self, bonus: float, first: int | None, make: Callable[[], Iterator[tuple[int, int]]]
    ) -> None:
        self.bonus = bonus
        self.next_doc = first
        self._make = make
        self._iterator: Iterator[tuple[int, int]] | None = None
        self._head: tuple[int, int] | None = None

    def take(self) -> tuple[int, int] | None:
        """Return the next (doc, tier), or None when this call only started the stream."""
        if self._iterator is None:
            self._iterator = self._make()
            self._head = next(self._iterator, None)
            self.next_doc = None if self._head is None else self._head[0]
            return None
        taken = self._head
        self._head = next(self._iterator, None)
        self.next_doc = None if self._head is None else self._head[0]
        return taken


class _Scorer:
    """The ranking score of one query's matches, and the most a match could still score."""

    __slots__ = ("_docs", "_genres", "_log_popularity", "_max_genre", "_titles")

    def __init__(self, index: TitleIndex, taste: Taste | None) -> None:
        self._log_popularity = index.log_popularity
        self._docs = index.docs
        self._genres: dict[str, float] = {}
        self._titles: dict[int, float] = {}
        if taste:
            for genre, factor in taste.genres.items():
                if factor > 1.0:
                    self._genres[genre] = math.log(min(factor, MAX_GENRE_FACTOR))
            for title_id, factor in taste.titles.items():
                doc = index.by_id.get(title_id)
                if doc is not None and factor > 1.0:
                    self._titles[doc] = math.log(min(factor, MAX_TITLE_FACTOR))
        self._max_genre = max(self._genres.values(), default=0.0)

    @property
    def title_docs(self) -> list[int]:
        """Documents the taste names: checked one by one, as no stream bound covers them."""
        return sorted(self._titles)

    def score(self, doc: int, bonus: float) -> float:
        """Return the score of ``doc`` found with ``bonus`` (start, whole word)."""
        score = self._log_popularity[doc] + bonus
        if self._genres:
            score += max((self._genres.get(g, 0.0) for g in self._docs[doc].genres), default=0.0)
        if self._titles:
            score += self._titles.get(doc, 0.0)
        return score

    def bound(self, doc: int, bonus: float) -> float:
        """Return the most ``doc``, or any less popular one, could score with ``bonus``."""
        return self._log_popularity[doc] + bonus + self._max_genre


def _unique(ordered: Iterable[int]) -> Iterator[int]:
    previous = -1
    for value in ordered:
        if value != previous:
            yield value
            previous = value


def _title_texts(doc: TitleDoc) -> list[str]:
    texts = [doc.title]
    if doc.original_title:
        texts.append(display_title(doc.original_title))
    texts.extend(display_title(t) for t in doc.alternate_titles)
    return texts


def _start_forms(doc: TitleDoc) -> list[str]:
    """Return the folded forms a title starts with: each of its titles, and joined ones."""
    forms = []
    for text in _title_texts(doc):
        forms.append(" ".join(fold_words(text)))
        if joined_words(text):
            # "Spider-Man 2" also starts "spiderman 2".
            forms.append(" ".join(fold_words(text.replace("-", ""))))
    return forms


def _spans(title: str, folded: Sequence[str], slack: int = 0) -> tuple[tuple[int, int], ...]:
    """Return the [start, end) spans of ``title`` that the folded query words matched."""
    tokens = word_spans(title)
    spans: list[tuple[int, int]] = []
    used: set[int] = set()
    for i, word in enumerate(folded):
        last = i == len(folded) - 1
        span = _span_of(title, tokens, word, last, used, slack)
        if span is not None:
            spans.append(span)
    return tuple(sorted(set(spans)))


def _span_of(
    title: str,
    tokens: Sequence[tuple[str, int, int]],
    word: str,
    last: bool,
    used: set[int],
    slack: int = 0,
) -> tuple[int, int] | None:
    budget = typo_budget(word, slack)
    best: tuple[int, int, int] | None = None  # (typos, token, end)
    for k, (token, start, end) in enumerate(tokens):
        if k in used:
            continue
        if token == word:
            best = (0, k, end)
            break
        if last and token.startswith(word):
            best = (0, k, prefix_end(title, start, len(word)))
            break
        # A joined word typed for several title words: "spiderman" over "Spider-Man".
        joined, j = token, k
        while len(joined) < len(word) and j + 1 < len(tokens):
            j += 1
            joined += tokens[j][0]
            if joined == word or (last and joined.startswith(word)):
                return (start, tokens[j][2])
        if budget and (best is None or best[0] > 0):
            d = distance(word, token, budget)
            if last and d > budget and len(token) > len(word):
                d = distance(word, token[: len(word)], budget)
                end = prefix_end(title, start, len(word)) if d <= budget else end
            if d <= budget and (best is None or d < best[0]):
                best = (d, k, end)
    if best is None:
        return None
    used.add(best[1])
    return (tokens[best[1]][1], best[2])
