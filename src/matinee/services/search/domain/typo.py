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


def typo_budget(word: str) -> int:
    """Return how many typos a query word of this length may carry (0, 1 or 2)."""
    n = len(word)
    if n >= TWO_TYPOS_FROM:
        return 2
    return 1 if n >= ONE_TYPO_FROM else 0


def distance(a: str, b: str, bound: int) -> int:
    """Return the edit distance with adjacent swaps (OSA), or ``bound + 1`` when above it."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if abs(la - lb) > bound:
        return bound + 1
    previous2: list[int] = []
    previous = list(range(lb + 1))
    for i in range(1, la + 1):
        current = [i] + [0] * lb
        best = current[0]
        ca = a[i - 1]
        for j in range(1, lb + 1):
            cost = 0 if ca == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
            best = min(best, value)
        if best > bound:
            return bound + 1
        previous2, previous = previous, current
    return min(previous[lb], bound + 1)


def deletions(word: str, depth: int) -> set[str]:
    """Return ``word`` and every string made by deleting up to ``depth`` of its characters."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found
