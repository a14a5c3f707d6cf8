"""Starter labeling functions: keywords that are precise on the hand-labeled dev set.

A starting point for a new project (``python -m workbench init``), not a substitute for
writing LFs: every suggestion carries its dev precision and coverage, measured with the very
``keyword_lf`` that is written to the module.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench._internal.validation import ABSTAIN
from workbench.labeling._lf import VectorizedLF, keyword_lf

_WORD = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True)
class KeywordSuggestion:
    """One suggested keyword LF and how it did on the dev set."""

    lf: VectorizedLF
    label: int
    keyword: str
    precision: float
    coverage: float
    hits: int

    def comment(self, class_names: Sequence[str]) -> str:
        return (f"'{self.keyword}' -> {class_names[self.label]}: dev precision {self.precision:.2f} "
                f"({round(self.precision * self.hits)}/{self.hits}), dev coverage {self.coverage:.1%}")


def _lf_name(class_name: str, keyword: str) -> str:
    # Starts with "kw_" and has only word characters: always a Python identifier.
    return re.sub(r"\W+", "_", f"kw_{class_name}_{keyword}".lower()).strip("_")


def suggest_keyword_lfs(texts: Sequence[str], labels: Sequence[int], class_names: Sequence[str], *,
                        per_class: int = 3, min_precision: float = 0.8, min_hits: int = 3) -> list[KeywordSuggestion]:
    """Keyword LFs (one word each) with high precision on labeled rows, up to ``per_class`` per class.

    Candidates are the words (3+ letters, case-insensitive) found in at least ``min_hits``
    labeled rows; each becomes a :func:`workbench.labeling.keyword_lf` voting the class most of
    those rows have, is applied to the rows, and is kept if its precision reaches
    ``min_precision``. The most covering ones are kept per class, most precise first on ties.

    Examples
    --------
    >>> texts = ["buy now cheap", "cheap pills", "cheap watches", "nice song", "love this song", "song!"]
    >>> [s.lf.name for s in suggest_keyword_lfs(texts, [1, 1, 1, 0, 0, 0], ["ham", "spam"])]
    ['kw_ham_song', 'kw_spam_cheap']
    """
    texts = pd.Series(list(texts), dtype="string").fillna("")
    y = np.asarray(labels, dtype=np.int64)
    if len(texts) != len(y):
        raise ValueError(f"{len(texts)} texts but {len(y)} labels")
    k = len(class_names)
    rows_with: Counter[str] = Counter()
    by_class: dict[str, Counter[int]] = {}
    for text, label in zip(texts, y):
        for word in set(_WORD.findall(str(text).lower())):
            rows_with[word] += 1
            by_class.setdefault(word, Counter())[int(label)] += 1
    frame = pd.DataFrame({"text": texts})
    found: dict[int, list[KeywordSuggestion]] = {c: [] for c in range(k)}
    for word, hits in rows_with.items():
        if hits < min_hits:
            continue
        label, count = by_class[word].most_common(1)[0]
        if count / hits < min_precision or not 0 <= label < k:
            continue
        lf = keyword_lf(_lf_name(class_names[label], word), [word], label)
        votes = lf(frame)
        voted = votes != ABSTAIN
        if not voted.any():
            continue
        precision = float((votes[voted] == y[voted]).mean())
        if precision >= min_precision:
            found[label].append(KeywordSuggestion(lf, label, word, precision, float(voted.mean()), int(voted.sum())))
    chosen = []
    for label in range(k):
        ranked = sorted(found[label], key=lambda s: (-s.hits, -s.precision, s.keyword))
        chosen += ranked[:per_class]
    return chosen
