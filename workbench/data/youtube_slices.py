"""Ready slices of the bundled YouTube Spam Collection, for :func:`workbench.evaluate.slice_report`.

Slices are populations where a model trained on synthetic labels may fail
quietly: comments with links (mostly spam, and the LFs lean on links), very short
comments (little text for an end model), each video (a different audience and
time), and patterns of the author's name (handles with digits, one-word handles,
all-lowercase names, names in a non-Latin script).

Examples
--------
>>> from workbench.data._dataset import load_youtube_spam
>>> from workbench.evaluate import slice_masks
>>> masks = slice_masks(load_youtube_spam().valid, YOUTUBE_SLICES)
>>> "has_link" in masks and "video=1" in masks
True
"""

from __future__ import annotations

import re
import unicodedata

from snorkel.slicing import slicing_function

#: Comments of at most this many words count as very short.
SHORT_WORDS = 3

_LINK = re.compile(r"https?://|www\.|\.(?:com|net|org|ly|be)\b|youtu\.be", re.IGNORECASE)


def _author(x) -> str:
    return "" if x.AUTHOR is None or x.AUTHOR != x.AUTHOR else str(x.AUTHOR).strip()


@slicing_function()
def has_link(x) -> bool:
    """The comment contains a URL or a domain name."""
    return bool(_LINK.search(x.text))


@slicing_function()
def very_short(x) -> bool:
    """The comment has at most ``SHORT_WORDS`` words."""
    return len(x.text.split()) <= SHORT_WORDS


@slicing_function()
def author_has_digits(x) -> bool:
    """The author's name contains a digit (``gamer2013``, ``SuperPanic3``)."""
    return any(c.isdigit() for c in _author(x))


@slicing_function()
def author_one_word(x) -> bool:
    """The author's name is a single token: a handle rather than a person's name."""
    name = _author(x)
    return bool(name) and len(name.split()) == 1


@slicing_function()
def author_lowercase(x) -> bool:
    """The author's name has letters and none of them is uppercase."""
    return _author(x).islower()


@slicing_function()
def author_non_latin(x) -> bool:
    """The author's name has letters outside the Latin script (Arabic, Cyrillic, Hangul, ...)."""
    return any(
        unicodedata.category(c).startswith("L") and not unicodedata.name(c, "").startswith("LATIN")
        for c in _author(x)
    )


#: The slicing functions: populations defined by the comment and its author.
YOUTUBE_SLICE_FUNCTIONS = [
    has_link,
    very_short,
    author_has_digits,
    author_one_word,
    author_lowercase,
    author_non_latin,
]

#: The slicing functions plus the ``video`` column (one slice per video; the
#: ``test`` split is one video, so per-video slices need valid/dev/canary rows).
YOUTUBE_SLICES = [*YOUTUBE_SLICE_FUNCTIONS, "video"]
