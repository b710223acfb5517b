"""Text folding: what makes "spiderman" find "Spider-Man" and "zatoichi" find "Zatôichi".

Titles and queries go through the same folding, so both sides agree on words:

| usage | gives |
|---|---|
| ``fold_words("Spider-Man: Homecoming")`` | ``["spider", "man", "homecoming"]`` |
| ``joined_words("Spider-Man")`` | ``["spiderman"]`` (hyphenated words also index joined) |
| ``fold_words("Zatôichi")``, ``fold_words("O'Brien")`` | ``["zatoichi"]``, ``["obrien"]`` |
| ``display_title("Matrix, The")`` | ``"The Matrix"`` |
| ``word_spans("The Matrix")`` | ``(("the", 0, 3), ("matrix", 4, 10))`` (for highlights) |
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "display_title",
    "fold_text",
    "fold_words",
    "joined_words",
    "prefix_end",
    "word_spans",
]

# Marks inside a word that people leave out when they type: "Ocean's", "E.T.", "Mr."
_DROPPED = frozenset("'.`\u2019\u2018\u00b4")
# Marks that join the parts of one word: "Spider-Man" is found as "spider man" and "spiderman".
_JOINERS = frozenset("-\u2010\u2011\u2012\u2013\u2014")
_SPECIAL = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "þ": "th", "\u0131": "i"}

_ARTICLES = (
    "The|An|A|Les|Le|La|L'|Los|Las|El|Il|Lo|Gli|I|Un'|Una|Uno|Un|Une|Die|Der|Das|Den|Det|De|"
    "Het|Een|Ett|En|Ein|Eine|O|Os|As|Oi|Ta|To|Az"
)
_TRAILING_ARTICLE = re.compile(rf"^(?P<body>.+?), (?P<article>{_ARTICLES})(?P<rest>\s*\(.*\))?$")


def display_title(name: str) -> str:
    """Return the display form: ``"Matrix, The"`` becomes ``"The Matrix"``; others unchanged."""
    text = " ".join(name.split())
    match = _TRAILING_ARTICLE.match(text)
    if match is None:
        return text
    article, body, rest = match["article"], match["body"], match["rest"] or ""
    joined = f"{article}{body}" if article.endswith("'") else f"{article} {body}"
    return joined + rest


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    """Return what one character folds to: lower-case letters and digits, "" or a space."""
    if char in _DROPPED:
        return ""
    if char in _JOINERS:
        return "-"
    lower = char.lower()
    if lower in _SPECIAL:
        return _SPECIAL[lower]
    out = []
    for part in unicodedata.normalize("NFKD", lower):
        category = unicodedata.category(part)
        if category[0] in "LN":
            out.append(part.lower())
        elif category[0] == "M":
            continue  # accents and other combining marks: "ô" is typed "o"
        else:
            out.append(" ")
    return "".join(out)


def fold_text(text: str) -> str:
    """Return ``text`` folded to lower-case words separated by spaces or joiners ("-")."""
    return "".join([_fold_char(c) for c in text])


def fold_words(text: str) -> list[str]:
    """Return the folded words of ``text``; joined words are split at their joiners."""
    return fold_text(text).replace("-", " ").split()


def joined_words(text: str) -> list[str]:
    """Return the joined forms of hyphenated words ("spider-man" -> "spiderman")."""
    out = []
    for chunk in fold_text(text).split():
        if "-" in chunk:
            joined = chunk.replace("-", "")
            if joined:
                out.append(joined)
    return out


@lru_cache(maxsize=16384)
def word_spans(text: str) -> tuple[tuple[str, int, int], ...]:
    """Return each folded word of ``text`` with its [start, end) character span in ``text``.

    Cached: the same popular titles are highlighted over and over as people type.
    """
    spans: list[tuple[str, int, int]] = []
    word: list[str] = []
    start = -1
    for i, char in enumerate(text):
        folded = _fold_char(char)
        if folded and folded != "-" and " " not in folded:
            if start < 0:
                start = i
            word.append(folded)
            end = i + 1
        elif folded == "" and start >= 0:
            continue  # a dropped mark inside a word: "Ocean's" stays one word
        else:
            if start >= 0:
                spans.append(("".join(word), start, end))
            word, start = [], -1
    if start >= 0:
        spans.append(("".join(word), start, end))
    return tuple(spans)


def prefix_end(text: str, start: int, folded_length: int) -> int:
    """Return where in ``text`` the first ``folded_length`` folded characters from ``start`` end."""
    consumed = 0
    i = start
    while i < len(text) and consumed < folded_length:
        consumed += len(_fold_char(text[i]).strip(" -"))
        i += 1
    return i
