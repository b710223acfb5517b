"""The typo rule (Meilisearch's): how many typos a word may carry, and how to count them.

| usage | gives |
|---|---|
| ``typo_budget("matr")``, ``typo_budget("matrx")``, ``typo_budget("terminatr")`` | 0, 1, 2 |
| ``distance("matirx", "matrix", 1)`` | 1 (a swap of neighbours is one typo) |
| ``distance("abcdef", "uvwxyz", 2)`` | 3 (anything over the bound is bound + 1) |
| ``deletions("matrix", 1)`` | ``{"matrix", "atrix", "mtrix", ...}`` (the typo index's keys) |
"""

from __future__ import annotations

__all__ = ["ONE_TYPO_FROM", "TWO_TYPOS_FROM", "deletions", "distance", "typo_budget"]

ONE_TYPO_FROM = 5
TWO_TYPOS_FROM = 9


def typo_budget(word: str, slack: int = 0) -> int:
    """Return how many typos a query word of this length may carry (0, 1 or 2).

    ``slack`` counts the word as that many characters longer: a typo that dropped a
    letter made it shorter than the word meant (the index's fallback when nothing matched).
    """
    n = len(word) + slack
    if n >= TWO_TYPOS_FROM:
        return 2
    return 1 if n >= ONE_TYPO_FROM else 0


def distance(a: str, b: str, bound: int) -> int:
    """Return the edit distance with adjacent swaps (OSA), or ``bound + 1`` when above it.

    Only the band of cells within ``bound`` of the diagonal is computed: a cell outside it
    is already more than ``bound`` edits away.
    """
    if a == b:
        return 0
    la, lb = len(a), len(b)
    over = bound + 1
    if abs(la - lb) > bound:
        return over
    previous2: list[int] = []
    previous = [j if j <= bound else over for j in range(lb + 1)]
    for i in range(1, la + 1):
        current = [over] * (lb + 1)
        if i <= bound:
            current[0] = i
        best = current[0]
        ca = a[i - 1]
        for j in range(max(1, i - bound), min(lb, i + bound) + 1):
            value = previous[j - 1] if ca == b[j - 1] else previous[j - 1] + 1
            if previous[j] + 1 < value:
                value = previous[j] + 1
            if current[j - 1] + 1 < value:
                value = current[j - 1] + 1
            if (
                i > 1
                and j > 1
                and ca == b[j - 2]
                and a[i - 2] == b[j - 1]
                and previous2[j - 2] + 1 < value
            ):
                value = previous2[j - 2] + 1
            if value > over:
                value = over
            current[j] = value
            if value < best:
                best = value
        if best > bound:
            return over
        previous2, previous = previous, current
    return previous[lb] if previous[lb] < over else over


def deletions(word: str, depth: int) -> set[str]:
    """Return ``word`` and every string made by deleting up to ``depth`` of its characters."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found
