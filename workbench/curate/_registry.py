"""The filter-step registry: each step is one object holding its name, its parameters and its run function.

A pipeline config's ``filter:`` list names steps registered in :data:`FILTER_STEPS`; the
config checks each entry's parameters against the step's :class:`StepParam` list (errors
name the key), the pipeline runs the steps in order through :func:`run_filter_steps`, and
the step's name is the same string in config, funnel, manifest and report.

Adding a step is registering one object::

    from workbench.curate import StepParam, exclude, filter_step

    @filter_step("short_texts", StepParam("min_chars", int, low=1), description="texts too short to learn from")
    def short_texts(context, rows, *, min_chars):
        ids = context.ids[rows]
        short = context.texts[rows].str.len().to_numpy() < min_chars
        return exclude(ids, ids[short], f"shorter than {min_chars} characters", name="short_texts")

after which ``filter: [uncovered, {step: short_texts, min_chars: 10}]`` validates and runs.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench._internal.memory import release_unused_memory
from workbench._internal.registry import Registry
from workbench._internal.text import NORMALIZED_DTYPE, BandKeys, normalize_text
from workbench._internal.validation import check_label_matrix, check_proba, covered
from workbench.curate._confidence import confidence_filter
from workbench.curate._dedupe import drop_duplicates, find_duplicates
from workbench.curate._funnel import FilterStep, Funnel
from workbench.curate._scores import exclude_rows
from workbench.data._dataset import ID_COLUMN, TEXT_COLUMN
from workbench.evaluate._leakage import check_leakage

#: Names of the built-in steps: each is the one string used in config, funnel, manifest and report.
UNCOVERED_STEP = "uncovered"
CONFIDENCE_STEP = "confidence"
PROTECTED_DUPLICATES_STEP = "protected_duplicates"
NEAR_DUPLICATES_STEP = "near_duplicates"

_REQUIRED = object()


class ParamError(ValueError):
    """A filter step's parameter is missing, unknown or invalid; ``param`` names it."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param, self.message = param, message


@dataclass(frozen=True)
class StepParam:
    """One parameter of a filter step: its name, type, default and allowed range.

    ``kind`` is a type or a tuple of types (``float`` also accepts ints and converts them;
    a bool is never taken for a number). ``low``/``high`` bound numbers (inclusive unless
    ``low_open``); ``choices`` lists the allowed values. A parameter without ``default`` is
    required.
    """

    name: str
    kind: type | tuple[type, ...] = float
    default: Any = _REQUIRED
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple | None = None
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def check(self, value: Any) -> Any:
        """``value`` validated (floats converted); raises :class:`ParamError` naming this parameter."""
        if value is None and self.default is None:  # an optional parameter left unset
            return None
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if float in kinds and int not in kinds:
            kinds = (int, *kinds)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            expected = " or ".join(k.__name__ for k in kinds)
            raise ParamError(self.name, f"must be {expected}, got {type(value).__name__} {value!r}")
        if self.choices is not None and value not in self.choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParamError(self.name, f"unknown value {value!r}{hint}; choose one of {list(self.choices)}")
        below = self.low is not None and (value < self.low or (self.low_open and value == self.low))
        above = self.high is not None and value > self.high
        if below or above:
            if self.low is not None and self.high is not None:
                excluded = f" ({self.low:g} excluded)" if self.low_open else ""
                raise ParamError(self.name, f"{value!r} is outside {self.low:g}..{self.high:g}{excluded}")
            if below:
                raise ParamError(self.name, f"must be {'>' if self.low_open else '>='} {self.low:g}, got {value!r}")
            raise ParamError(self.name, f"must be <= {self.high:g}, got {value!r}")
        return float(value) if float in kinds and not isinstance(value, bool) else value


@dataclass(frozen=True)
class FilterContext:
    """What a filter step may look at: the pool and everything the pipeline knows about it.

    Attributes
    ----------
    pool : DataFrame
        The unlabeled pool, with ``example_id`` and ``text`` columns.
    proba : ndarray (n, k)
        The generator's class probabilities for the pool rows.
    L : ndarray (n, m), optional
        The LF votes on the pool (``ABSTAIN`` where an LF did not vote).
    protected : dict of split name to DataFrame
        The splits that must never be trained on (dev, valid, test, canary).
    class_names : list of str, optional
    progress_bar : bool or None
        Whether slow steps show a progress bar (None: automatic).
    disagreement : ndarray (n,), optional
        How much the generators disagree on each row (0..1; :func:`disagreement_score`), when
        more than one generated labels.
    ids : ndarray of str
        The pool's ``example_id`` values as strings (the funnel's ids).
    texts : Series
        The pool's texts (``texts[rows]`` selects by position).

    :meth:`normalized` gives the texts through :func:`~workbench.curate.normalize_text`, each
    row normalised once however many steps compare texts. :meth:`band_keys` gives the LSH band
    keys the near-duplicate step computed, for the leakage check to reuse.
    """

    pool: pd.DataFrame
    proba: np.ndarray
    L: np.ndarray | None = None
    protected: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    class_names: Sequence[str] | None = None
    progress_bar: bool | None = None
    disagreement: np.ndarray | None = None
    ids: np.ndarray = field(init=False, repr=False)
    texts: pd.Series = field(init=False, repr=False)
    _normalized: pd.Series = field(init=False, repr=False)
    _band_keys: tuple | None = field(init=False, repr=False)

    def __post_init__(self):
        for column in (ID_COLUMN, TEXT_COLUMN):
            if column not in self.pool.columns:
                raise ValueError(f"the pool has no {column!r} column; columns are {list(self.pool.columns)}")
        object.__setattr__(self, "proba", check_proba(self.proba, len(self.pool)))
        if self.L is not None:
            L = check_label_matrix(self.L)
            if len(L) != len(self.pool):
                raise ValueError(f"L has {len(L)} rows but the pool has {len(self.pool)}")
            object.__setattr__(self, "L", L)
        if self.disagreement is not None:
            score = np.asarray(self.disagreement, dtype=float)
            if score.shape != (len(self.pool),):
                raise ValueError(f"disagreement has shape {score.shape}; expected ({len(self.pool)},), one score per pool row")
            object.__setattr__(self, "disagreement", score)
        object.__setattr__(self, "ids", self.pool[ID_COLUMN].astype(str).to_numpy())
        object.__setattr__(self, "texts", self.pool[TEXT_COLUMN].reset_index(drop=True))
        # the normalised texts so far, indexed by their rows' positions (ascending), kept as arrow strings: a
        # million Python strings would take more memory and converting them back on each call, a second or more
        object.__setattr__(self, "_normalized", pd.Series([], index=pd.Index([], dtype=np.int64), dtype=NORMALIZED_DTYPE))
        object.__setattr__(self, "_band_keys", None)

    def normalized(self, rows: np.ndarray) -> pd.Series:
        """The normalised texts of ``rows`` (positions), as :func:`~workbench.curate.normalize_text`
        gives them; each row is normalised the first time a step asks for it."""
        rows = np.asarray(rows, dtype=np.int64)
        done = self._normalized.index.to_numpy()
        # a mask over the pool's rows: linear, where np.setdiff1d hashes both arrays (seconds at a million rows)
        wanted = np.zeros(len(self.texts), dtype=bool)
        wanted[rows] = True
        wanted[done] = False
        missing = np.flatnonzero(wanted)
        if len(missing):
            new = normalize_text(self.texts.iloc[missing]).set_axis(missing)
            done = np.concatenate([done, missing])
            order = np.argsort(done, kind="stable")
            object.__setattr__(self, "_normalized", pd.concat([self._normalized, new]).iloc[order] if len(new) < len(done) else new)
            done = done[order]
        at = np.searchsorted(done, rows)
        if len(at) == len(done) and (at == np.arange(len(done))).all():  # every row so far, in order: no copy
            return self._normalized.reset_index(drop=True)
        return self._normalized.iloc[at].reset_index(drop=True)

    def keep_band_keys(self, rows: np.ndarray, band_keys: BandKeys | None) -> None:
        """Keep the band keys a step computed for ``rows`` (ascending positions), one entry per row."""
        if band_keys is not None:
            object.__setattr__(self, "_band_keys", (np.asarray(rows), band_keys))

    def band_keys(self, rows: np.ndarray) -> BandKeys | None:
        """The kept band keys of ``rows`` (positions; a row no step computed keys for has none), or
        None when no step kept any."""
        if self._band_keys is None:
            return None
        seen, band_keys = self._band_keys
        at = np.minimum(np.searchsorted(seen, rows), max(len(seen) - 1, 0))
        found = (seen[at] == rows) if len(seen) else np.zeros(len(rows), dtype=bool)
        return band_keys.take(np.where(found, at, -1))

    def votes(self, step: str) -> np.ndarray:
        """The LF votes ``L``, or an error naming ``step`` when there are none (a generator without LFs)."""
        if self.L is None:
            raise ValueError(f"the {step} filter step needs the LF votes (FilterContext.L), but there are none")
        return self.L


@dataclass(frozen=True)
class FilterStepSpec:
    """A registered filter step: ``run(context, rows, **params) -> FilterStep`` and its parameters.

    ``rows`` are the positions (in ``context.pool``) of the rows still kept, in pool order;
    the returned :class:`FilterStep` looks at exactly those rows and is named ``name``.
    Calling the spec checks the parameters, runs the step and checks what it returned.
    """

    name: str
    run: Callable[..., FilterStep]
    params: tuple[StepParam, ...] = ()
    description: str = ""

    def check_params(self, params: Mapping[str, Any]) -> dict:
        """The step's parameters, validated, with defaults filled in; raises :class:`ParamError`."""
        known = {p.name: p for p in self.params}
        for key in params:
            if key not in known:
                close = difflib.get_close_matches(str(key), list(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ParamError(str(key), f"unknown key{hint}; known keys are {sorted(known)}")
        checked = {}
        for p in self.params:
            if p.name in params:
                checked[p.name] = p.check(params[p.name])
            elif p.required:
                raise ParamError(p.name, f"missing: the {self.name} step needs a {p.name}")
            elif p.default is not None:  # an optional parameter left unset stays out of config and manifest
                checked[p.name] = p.default
        return checked

    def __call__(self, context: FilterContext, rows: np.ndarray, **params: Any) -> FilterStep:
        step = self.run(context, np.asarray(rows), **self.check_params(params))
        if not isinstance(step, FilterStep):
            raise TypeError(f"filter step {self.name!r} returned {type(step).__name__}, not a FilterStep")
        if step.name != self.name:
            raise ValueError(f"filter step {self.name!r} returned a FilterStep named {step.name!r}; "
                             "a step must report itself under its registered name")
        return step


#: The filter steps by name: config (``filter:``), pipeline and report read this one registry.
FILTER_STEPS: Registry[FilterStepSpec] = Registry("filter step")


def filter_step(name: str, *params: StepParam, description: str = "", replace: bool = False):
    """Decorator: register ``run(context, rows, **params)`` as the filter step ``name``; returns its spec."""

    def register(run: Callable[..., FilterStep]) -> FilterStepSpec:
        doc = description or (run.__doc__ or "").strip().split("\n")[0]
        return FILTER_STEPS.register(name, FilterStepSpec(name, run, tuple(params), doc), replace=replace)

    return register


def run_filter_steps(context: FilterContext, steps: Iterable[tuple[str, Mapping[str, Any]]]) -> Funnel:
    """Run registered steps in order, each on the rows the previous ones kept; the funnel records them.

    Examples
    --------
    >>> pool = pd.DataFrame({"example_id": ["a", "b", "c"], "text": ["x", "y", "z"]})
    >>> context = FilterContext(pool, np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]),
    ...                         L=np.array([[0], [-1], [1]]))
    >>> run_filter_steps(context, [("uncovered", {}), ("confidence", {"threshold": 0.85})]).kept_ids.tolist()
    ['a']
    """
    funnel = Funnel(context.ids)
    rows = np.arange(len(context.pool))
    for name, params in steps:
        step = FILTER_STEPS[name](context, rows, **params)
        funnel = funnel.then(step)
        rows = rows[step.kept]
        release_unused_memory()  # what the step's temporaries took, kept by the allocators, under the next step
    return funnel


# --------------------------------------------------------------------------- the built-in steps


@filter_step(UNCOVERED_STEP)
def uncovered(context: FilterContext, rows: np.ndarray) -> FilterStep:
    """Rows no LF voted on: nothing to learn from."""
    return exclude_rows(context.ids[rows], ~covered(context.votes(UNCOVERED_STEP)[rows]), "no LF voted",
                        name=UNCOVERED_STEP)


@filter_step(CONFIDENCE_STEP, StepParam("threshold", float, low=0, high=1, description="minimum top-class probability"),
             StepParam("class_thresholds", dict, default=None,
                       description="per-class minimum by class name, raising the global one for those classes"))
def confidence(context: FilterContext, rows: np.ndarray, *, threshold: float,
               class_thresholds: dict | None = None) -> FilterStep:
    """Rows whose top class probability is below the threshold (of their predicted class)."""
    return confidence_filter(context.proba[rows], threshold, class_thresholds=class_thresholds, ids=context.ids[rows],
                             class_names=context.class_names)


@filter_step(PROTECTED_DUPLICATES_STEP)
def protected_duplicates(context: FilterContext, rows: np.ndarray) -> FilterStep:
    """Rows whose text is a protected (dev/valid/test/canary) row's, as the leakage check compares texts."""
    if not context.protected:
        raise ValueError(f"the {PROTECTED_DUPLICATES_STEP} filter step needs the protected splits (FilterContext.protected)")
    leaked = check_leakage(context.pool, context.protected, near=False, normalized=context.normalized(rows),
                           rows=rows).leaked
    return exclude_rows(context.ids[rows], leaked, "same text as a protected (dev/valid/test/canary) row",
                        name=PROTECTED_DUPLICATES_STEP)


@filter_step(NEAR_DUPLICATES_STEP, StepParam("threshold", float, low=0, high=1, low_open=True,
                                            description="Jaccard similarity of character shingles"))
def near_duplicates(context: FilterContext, rows: np.ndarray, *, threshold: float) -> FilterStep:
    """Clusters of (near) copies within the pool: the most confident row of each is kept."""
    ids = context.ids[rows]
    # the normalised texts alone: the pass reads only them, and a copy of the rows' texts would sit in memory through it
    clusters = find_duplicates(normalized=context.normalized(rows), ids=ids, threshold=threshold,
                               progress_bar=context.progress_bar)
    context.keep_band_keys(rows, clusters.band_keys)
    step = drop_duplicates(clusters, ids=ids, priority=context.proba[rows].max(axis=1))
    # drop_duplicates names its step for curate(); this registered step reports under its own name
    return dataclasses.replace(step, name=NEAR_DUPLICATES_STEP)
