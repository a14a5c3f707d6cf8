"""Helpers shared by test modules (test modules never import each other)."""

import random
import re
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def siblings(path: Path) -> list[str]:
    """Names of the files beside ``path``: a leftover temporary file shows up here."""
    return sorted(p.name for p in path.parent.iterdir())


# Random regexes and texts built to hit where Python's re and RE2 differ (regex and Dask engine tests).
ATOMS = ["a", "b", "A", "_", "\\x00", "é", "\u212a", "\u0130", "\u0131", "k", "i", ".", "\\w", "\\W", "\\d", "\\D", "\\s", "\\S", "[a-c]", "[^a-c]",
         "[\\w-]", "[^\\W_]", "[_x]", "[\\x00-\\x1f]", "[ -~]", "[^\\d\\s]", "\\b", "\\B", "^", "$", "\\A", "\\Z",
         "\\n", " ", "!", "1", "\u0663", "\\.", "[[:alpha:]]", "\\x0b", "\\x1f", "[\\x10-\\x1f]"]
QUANTIFIERS = ["", "", "", "*", "+", "?", "{2}", "{1,3}", "*?", "{,2}", "+?"]
FLAGS = [0, re.IGNORECASE, re.MULTILINE, re.DOTALL, re.IGNORECASE | re.MULTILINE]
ASCII_CHARS = "aAbBkKiIsS_ 1\n\t\x0b\x1c!-x.\x00"
OTHER_CHARS = "é❤\xa0\u0663ſ\u212a日\u2009ß"


def random_pattern(rng: random.Random, depth: int = 0) -> str:
    units = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        if kind < 0.15 and depth < 2:
            inner = random_pattern(rng, depth + 1)
            wrap = rng.choice(["({})", "(?:{}|{})", "(?i:{})", "(?-i:{})", "(?s:{})", "(?={})"])
            unit = wrap.format(inner, random_pattern(rng, depth + 1)) if wrap.count("{}") == 2 else wrap.format(inner)
        else:
            unit = rng.choice(ATOMS)
        units.append(unit + rng.choice(QUANTIFIERS))
    return "".join(units)


def random_texts(rng: random.Random, alphabet: str, n: int = 40) -> list[str]:
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7))) for _ in range(n)]
    return texts + [t + "\n" for t in texts[: n // 4]]  # where Python's $ and RE2's differ


def compiled_patterns(seed: int, n: int):
    rng = random.Random(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "possible nested set" for [[:alpha:]]
        for _ in range(n):
            try:
                yield rng, re.compile(random_pattern(rng), rng.choice(FLAGS))
            except re.error:  # e.g. a quantifier on ^
                continue


# A label model defined outside the package, registered by tests to check that config, pipeline
# and studio pick up whatever LABEL_MODELS holds.
def accuracy_weighted_vote():
    """A :class:`BaseLabelModel` subclass: each LF's vote weighs its agreement with the majority
    plus ``smoothing``. Built in a function so that importing this module imports no workbench code."""
    import numpy as np

    from workbench.generate import BaseLabelModel, MajorityVote

    class AccuracyWeightedVote(BaseLabelModel):
        min_lfs = 2

        def __init__(self, cardinality=2, *, smoothing=0.5, tie_break="abstain", class_balance=None, random_state=0):
            self.cardinality = cardinality
            self.smoothing = smoothing
            self.tie_break = tie_break
            self.class_balance = class_balance
            self.random_state = random_state

        def fit(self, L, y=None):
            L = self._validate_fit(L)
            majority = MajorityVote(self.cardinality, class_balance=self.class_balance).fit(L)
            self.class_balance_ = majority.class_balance_
            self.lf_accuracies_ = np.nan_to_num(majority.lf_accuracies_, nan=0.5)
            return self

        def predict_proba(self, L):
            L = self._validate_predict(L)
            weight = self.lf_accuracies_ + self.smoothing
            scores = np.stack([((L == c) * weight).sum(axis=1) for c in range(self.cardinality)], axis=1)
            total = scores.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(total > 0, scores / total, 1 / self.cardinality)

    return AccuracyWeightedVote


def binary_proba(p_spam) -> "np.ndarray":
    """(n, 2) probabilities from P(class 1)."""
    import numpy as np

    p = np.asarray(p_spam, dtype=float)
    return np.column_stack([1 - p, p])


# Review: constructed binary probabilities with a known order of certainty, and a queue over them.
REVIEW_PROBA = np.array([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7], [0.55, 0.45], [0.99, 0.01]])
LEAST_CERTAIN_FIRST = [1, 3, 2, 0, 4]


def review_queue(pool, store, proba=REVIEW_PROBA, **kw):
    """A ReviewQueue for tests: reviewer "ana", no protected rows, ten decisions, unless overridden."""
    from workbench.review import ReviewQueue

    settings = {"reviewer": "ana", "protected": None, "size": 10, **kw}
    return ReviewQueue(pool, proba, store=store, **settings)


def synthetic_votes(n=3000, k=2, accuracies=(0.9, 0.85, 0.8, 0.75, 0.7), coverage=0.6, seed=0, invert=None):
    """``(L, Y)``: LFs with known accuracies voting on known gold labels; LF ``invert`` is right
    only ``1 - accuracy`` of the time."""
    import numpy as np

    rng = np.random.default_rng(seed)
    Y = rng.integers(0, k, n)
    L = np.full((n, len(accuracies)), -1, dtype=np.int8)
    for j, acc in enumerate(accuracies):
        fires = rng.random(n) < coverage
        right = rng.random(n) < acc
        wrong = (Y + rng.integers(1, k, n)) % k
        votes = np.where(right, Y, wrong)
        if invert == j:
            votes = np.where(right, wrong, Y)
        L[fires, j] = votes[fires]
    return L, Y


def notebook_bars(monkeypatch, module) -> list:
    """Make ``module``'s ``tqdm`` the notebook bar (what ``tqdm.auto`` gives in Jupyter) and return
    the list of the bars it shows (not the disabled ones), to read their final state: ``bar.container.children[1]`` is the
    ipywidgets progress bar (``value``, ``max``, ``bar_style``), ``bar.desc`` the description."""
    from tqdm.notebook import tqdm as notebook_tqdm

    bars = []

    def make(*args, **kwargs):
        bar = notebook_tqdm(*args, **kwargs)
        if not kwargs.get("disable"):
            bars.append(bar)
        return bar

    monkeypatch.setattr(module, "tqdm", make)
    return bars
