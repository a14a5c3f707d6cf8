"""Labeling functions: Snorkel's conventions, vectorized builders, and stable fingerprints.

A labeling function (LF) votes a label ``0..k-1`` for an example, or ``ABSTAIN`` (-1).
Two kinds run side by side:

- **vectorized** LFs (:class:`VectorizedLF`) take the whole DataFrame and return one label
  per row. The builders :func:`keyword_lf` and :func:`regex_lf` and the decorator
  :func:`vectorized_lf` make them; they are fast on millions of rows.
- **row-wise** LFs are Snorkel's: anything made with ``@snorkel.labeling.labeling_function``
  (or a :class:`snorkel.labeling.LabelingFunction`) works unchanged.

Every LF has a *fingerprint*: a hash of its source code and parameters (and of the plain
data it reads from globals, such as a keyword list), so the applier can tell when an LF
changed and re-apply only that one.
"""

from __future__ import annotations

import dis
import hashlib
import inspect
import json
import marshal
import pickle
import re
import types
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
from snorkel.labeling import LabelingFunction

from workbench._internal.validation import ABSTAIN, label_dtype, lf_name
from workbench.labeling._regex import search

def _function_source(func: Callable) -> str:
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        # Defined where no source is kept (exec, some REPLs): the bytecode is the next best identity.
        return marshal.dumps(func.__code__).hex()


def global_names(code: types.CodeType) -> set[str]:
    """Names a code object, and the code nested in it (comprehensions, generators, lambdas), reads as globals."""
    names = {ins.argval for ins in dis.get_instructions(code) if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= global_names(const)
    return names


class _Opaque(Exception):
    """A value whose content cannot be hashed stably (an open file, a lock, a native handle)."""


#: At most this many values are visited when hashing one global an LF reads (attributes of
#: attributes...); a larger object graph counts as opaque rather than slowing every apply.
_MAX_HASHED_VALUES = 100_000


def _hash_value(value: Any, h: Any, seen: set[int], budget: list[int]) -> None:
    """Feed a canonical encoding of ``value``'s content into the hash ``h``; raise :class:`_Opaque` if none.

    Arrays count by dtype, shape and bytes, pandas objects by their values, index and dtypes, other
    objects by their class and attributes (recursively), functions by their source.
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise _Opaque("too large to fingerprint")
    kind = type(value)
    h.update(f"<{kind.__module__}.{kind.__qualname__}>".encode())
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        h.update(repr(value).encode("utf-8", "surrogatepass"))
        return
    if isinstance(value, re.Pattern):
        h.update(repr((value.pattern, value.flags)).encode("utf-8", "surrogatepass"))
        return
    if isinstance(value, types.ModuleType):  # a module is its name: np, re, a helper module
        h.update(value.__name__.encode())
        return
    if isinstance(value, (types.FunctionType, types.MethodType)):
        func = getattr(value, "__func__", value)
        h.update(_function_source(func).encode("utf-8", "surrogatepass"))
        if isinstance(value, types.MethodType):
            _hash_value(value.__self__, h, seen, budget)
        return
    if id(value) in seen:  # a cycle: the object is already being hashed
        h.update(b"<cycle>")
        return
    seen.add(id(value))
    try:
        if isinstance(value, (np.ndarray, np.generic)):
            array = np.asarray(value)
            h.update(f"{array.dtype.str}{array.shape}".encode())
            if array.dtype.hasobject:
                for item in array.ravel().tolist():
                    _hash_value(item, h, seen, budget)
            else:
                h.update(np.ascontiguousarray(array).tobytes())
        elif isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
            frame = value.to_frame() if isinstance(value, (pd.Series, pd.Index)) else value
            h.update(repr((list(frame.columns), [str(t) for t in frame.dtypes])).encode("utf-8", "surrogatepass"))
            try:
                h.update(pd.util.hash_pandas_object(frame, index=not isinstance(value, pd.Index)).to_numpy().tobytes())
            except TypeError as exc:  # unhashable cells (lists, dicts)
                raise _Opaque(str(exc)) from exc
        elif isinstance(value, (list, tuple)):
            h.update(str(len(value)).encode())
            for item in value:
                _hash_value(item, h, seen, budget)
        elif isinstance(value, dict):
            h.update(str(len(value)).encode())
            for key, item in value.items():
                _hash_value(key, h, seen, budget)
                _hash_value(item, h, seen, budget)
        elif isinstance(value, (set, frozenset)):
            digests = []
            for item in value:  # set order is arbitrary: hash each element apart, then sort
                inner = hashlib.sha256()
                _hash_value(item, inner, seen, budget)
                digests.append(inner.digest())
            h.update(b"".join(sorted(digests)))
        elif isinstance(value, type):
            h.update(value.__qualname__.encode())
            for name, attr in sorted(vars(value).items()):
                if not (name.startswith("__") and name.endswith("__")):
                    h.update(name.encode())
                    _hash_value(attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr, h, seen, budget)
        elif hasattr(value, "__dict__") or hasattr(type(value), "__slots__"):
            state = dict(getattr(value, "__dict__", {}))
            for slot in getattr(type(value), "__slots__", ()):
                if hasattr(value, slot):
                    state[slot] = getattr(value, slot)
            _hash_value(type(value), h, seen, budget)  # its methods' code
            _hash_value(state, h, seen, budget)
        else:  # native objects: their pickle, when they have one, is their content
            try:
                h.update(pickle.dumps(value, protocol=4))
            except Exception as exc:  # noqa: BLE001 -- any pickling failure means: no stable content
                raise _Opaque(f"{type(exc).__name__}: {exc}") from exc
    finally:
        seen.discard(id(value))


def _value_digest(value: Any) -> str | None:
    """SHA-256 of a value's content, or None when it cannot be fingerprinted."""
    h = hashlib.sha256()
    try:
        _hash_value(value, h, set(), [_MAX_HASHED_VALUES])
    except (_Opaque, RecursionError):
        return None
    return h.hexdigest()


def _referenced_state(func: Callable, _seen: set | None = None) -> tuple[list[str], list[str]]:
    """What an LF's code reads from globals and closures, as hashable text; and what cannot be hashed.

    Editing ``SPAM_WORDS = [...]`` in another cell, or the contents of a global array, or an
    attribute of a global object, must change the fingerprint of an LF that reads it, or the
    cache would hand back stale votes. Returns the state and the names (with their types) of
    values whose content cannot be fingerprinted.
    """
    seen = _seen if _seen is not None else {id(func)}
    code = getattr(func, "__code__", None)
    if code is None:
        return [], []
    state: list[str] = []
    opaque: list[str] = []
    values = {}
    for name in global_names(code):
        if name in getattr(func, "__globals__", {}):
            values[name] = func.__globals__[name]
    for name, cell in zip(code.co_freevars, func.__closure__ or ()):
        try:
            values[name] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
    for name, value in sorted(values.items()):
        if isinstance(value, types.FunctionType):
            if id(value) not in seen:
                seen.add(id(value))
                state.append(f"{name}:{_function_source(value)}")
                inner_state, inner_opaque = _referenced_state(value, seen)
                state += inner_state
                opaque += inner_opaque
            continue
        digest = _value_digest(value)
        if digest is None:
            opaque.append(f"{name!r} (a {type(value).__name__})")
            digest = f"opaque {type(value).__module__}.{type(value).__qualname__}"
        state.append(f"{name}={digest}")
    return state, opaque


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:16]


@dataclass(eq=False)
class VectorizedLF:
    """An LF that labels a whole DataFrame at once.

    Parameters
    ----------
    name : str
        Unique name; it becomes the LF's column in ``L`` and its row in the summary.
    func : callable
        ``func(df) -> array-like`` of length ``len(df)`` holding ``ABSTAIN`` or a label.
    params : dict, optional
        The builder's parameters (for fingerprints, lineage and :meth:`to_code`).
    builder : str, optional
        Name of the builder function that made it (``"keyword_lf"``, ``"regex_lf"``).
    labels : tuple of int
        The labels it can vote, when known.
    """

    name: str
    func: Callable[[pd.DataFrame], Any]
    params: dict = field(default_factory=dict)
    builder: str | None = None
    labels: tuple[int, ...] = ()

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"an LF name must be a non-empty string, got {self.name!r}")

    def __call__(self, df: pd.DataFrame) -> Any:
        return self.func(df)

    @property
    def source(self) -> str:
        """Source code that recreates this LF."""
        return self.to_code() if self.builder else _function_source(self.func)

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self)[0]

    def to_code(self) -> str:
        """A Python expression that rebuilds a builder-made LF (used when saving LF modules)."""
        if not self.builder:
            return self.source
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.builder}({args})"

    def __repr__(self) -> str:
        return f"VectorizedLF({self.to_code() if self.builder else self.name!r})"


def _text(df: pd.DataFrame, column: str, lf_name: str) -> pd.Series:
    if column not in df.columns:
        raise KeyError(f"LF {lf_name!r} reads column {column!r}, which the data does not have; columns are {list(df.columns)}")
    # pandas 3 turns None into NaN in string columns: treat missing text as empty, never crash.
    return df[column].astype("string").fillna("")


def _check_label(label: Any, name: str) -> int:
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or label < 0:
        raise ValueError(f"LF {name!r}: label must be an int class id >= 0, got {label!r}")
    return int(label)




def _match_votes(df: pd.DataFrame, text_column: str, lf_name: str, compiled: re.Pattern, label: int) -> np.ndarray:
    """``label`` where ``compiled`` matches the text (Python's ``re.search``, run by RE2 where it agrees), else ABSTAIN."""
    return np.where(search(_text(df, text_column, lf_name), compiled), label, ABSTAIN).astype(label_dtype(label + 1))


_WORD_CHAR = re.compile(r"\w")


def _keyword_regex(keywords: list[str], case_sensitive: bool, whole_word: bool) -> re.Pattern:
    def alternative(k: str) -> str:
        # \b only at an edge that is a word character: "\b:\)\b" would need letters around ":)"
        edge = [r"\b" if whole_word and _WORD_CHAR.match(c) else "" for c in (k[0], k[-1])]
        return f"{edge[0]}{re.escape(k)}{edge[1]}"

    alternatives = "|".join(alternative(k) for k in sorted(keywords, key=len, reverse=True))
    return re.compile(f"(?:{alternatives})", 0 if case_sensitive else re.IGNORECASE)


def builder_regex(lf: VectorizedLF) -> re.Pattern:
    """The compiled regex a ``keyword_lf`` or ``regex_lf`` searches its text column with."""
    p = lf.params
    if lf.builder == "keyword_lf":
        return _keyword_regex(p["keywords"], p["case_sensitive"], p["whole_word"])
    if lf.builder == "regex_lf":
        return re.compile(p["pattern"], p["flags"])
    raise TypeError(f"LF {lf.name!r} is not a keyword_lf or regex_lf")


def keyword_lf(
    name: str,
    keywords: Iterable[str],
    label: int,
    *,
    text_column: str = "text",
    case_sensitive: bool = False,
    whole_word: bool = True,
) -> VectorizedLF:
    """Vote ``label`` when the text contains any of ``keywords``, else abstain.

    Keywords are matched literally; with ``whole_word`` (default) a keyword must stand at
    word boundaries, so ``"my"`` does not fire on ``"mystery"``: a keyword that starts (ends) with
    a word character must not follow (precede) one; an edge of punctuation or emoji (``":)"``,
    ``"c++"``, ``"$$$"``) has no such bar.

    Examples
    --------
    >>> lf = keyword_lf("kw_subscribe", ["subscribe", "sub to"], label=1)
    >>> lf(pd.DataFrame({"text": ["Please SUBSCRIBE", "nice song", None]})).tolist()
    [1, -1, -1]
    """
    label = _check_label(label, name)
    if isinstance(keywords, str):
        keywords = [keywords]
    keywords = [str(k) for k in keywords]
    if not keywords or any(not k for k in keywords):
        raise ValueError(f"LF {name!r}: keywords must be a non-empty list of non-empty strings, got {keywords!r}")
    compiled = _keyword_regex(keywords, case_sensitive, whole_word)

    def apply(df: pd.DataFrame) -> np.ndarray:
        return _match_votes(df, text_column, name, compiled, label)

    params = {"name": name, "keywords": keywords, "label": label, "text_column": text_column,
              "case_sensitive": case_sensitive, "whole_word": whole_word}
    return VectorizedLF(name, apply, params=params, builder="keyword_lf", labels=(label,))


def regex_lf(
    name: str,
    pattern: str,
    label: int,
    *,
    text_column: str = "text",
    flags: int = re.IGNORECASE,
) -> VectorizedLF:
    """Vote ``label`` when the regular expression ``pattern`` matches anywhere in the text.

    Matches are Python's (``re.search`` with ``flags``); pyarrow's RE2 finds them where it
    provably agrees (see :mod:`workbench.labeling`), which is most rows of most patterns.

    Examples
    --------
    >>> lf = regex_lf("re_check_out", r"check.*out", label=1)
    >>> lf(pd.DataFrame({"text": ["Check my video out!", "great"]})).tolist()
    [1, -1]
    """
    label = _check_label(label, name)
    try:
        compiled = re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"LF {name!r}: invalid regular expression {pattern!r}: {exc}") from exc

    def apply(df: pd.DataFrame) -> np.ndarray:
        return _match_votes(df, text_column, name, compiled, label)

    params = {"name": name, "pattern": pattern, "label": label, "text_column": text_column, "flags": int(flags)}
    return VectorizedLF(name, apply, params=params, builder="regex_lf", labels=(label,))


def vectorized_lf(name: str | None = None, labels: Iterable[int] = ()) -> Callable[[Callable], VectorizedLF]:
    """Decorator: turn ``f(df) -> labels`` into a :class:`VectorizedLF` named after ``f``.

    Examples
    --------
    >>> @vectorized_lf()
    ... def short_comment(df):
    ...     return np.where(df.text.str.split().str.len() < 5, 0, ABSTAIN)
    >>> short_comment.name
    'short_comment'
    """

    def wrap(func: Callable) -> VectorizedLF:
        return VectorizedLF(name or func.__name__, func, labels=tuple(labels))

    return wrap


def is_vectorized(lf: Any) -> bool:
    return isinstance(lf, VectorizedLF)


def lf_source(lf: Any) -> str:
    """Source code of any supported LF (vectorized or Snorkel's row-wise)."""
    if isinstance(lf, VectorizedLF):
        return lf.source
    if isinstance(lf, LabelingFunction):
        return _function_source(lf._f)
    raise TypeError(f"{lf!r} is not a labeling function")


def _fingerprint(lf: Any) -> tuple[str, list[str]]:
    """An LF's fingerprint, and what it reads that could not be fingerprinted (see :func:`lf_cache_key`)."""
    if isinstance(lf, VectorizedLF):
        if lf.builder:
            return _digest(lf.builder, json.dumps(lf.params, sort_keys=True, default=repr)), []
        state, opaque = _referenced_state(lf.func)
        return _digest("vectorized", lf.name, lf.source, *state), opaque
    if isinstance(lf, LabelingFunction):
        state, opaque = _referenced_state(lf._f)
        resources = _value_digest(lf._resources or {})
        if resources is None:
            opaque.append(f"its resources ({', '.join(sorted(lf._resources))})")
        parts = [lf.name, _function_source(lf._f), *state, f"resources={resources}"]
        for pre in lf._pre:
            parts.append(repr(pre))
            inner = getattr(pre, "_f", None) or getattr(pre, "run", None)
            if inner is not None:
                parts.append(_function_source(inner))
        return _digest(*parts), opaque
    raise TypeError(f"{lf!r} is not a labeling function (expected a builder LF or a Snorkel LabelingFunction)")


def lf_fingerprint(lf: Any) -> str:
    """Hash of an LF's code, parameters, resources and the global data it reads.

    Global data counts by content: lists and dicts, NumPy arrays (dtype, shape and bytes),
    pandas objects, and other objects by their class and attributes. A value whose content
    cannot be hashed (an open file, a lock) counts by its type only; :func:`lf_cache_key` then
    says the LF's votes must not be cached.
    """
    return _fingerprint(lf)[0]


def lf_cache_key(lf: Any) -> str | None:
    """The key under which an LF's votes may be cached: its fingerprint, or None when the LF reads
    a global (or has a resource) whose content cannot be fingerprinted, so cached votes could be stale.

    Warns once per call with None, naming what could not be fingerprinted.
    """
    fingerprint, opaque = _fingerprint(lf)
    if not opaque:
        return fingerprint
    warnings.warn(f"LF {lf_name(lf)!r} reads {', '.join(opaque)}, whose content cannot be fingerprinted; "
                  "its votes are recomputed on every apply instead of cached", UncachedLFWarning, stacklevel=3)
    return None


class UncachedLFWarning(UserWarning):
    """An LF's votes are not cached because something it reads cannot be fingerprinted."""


def check_unique_names(lfs: Iterable[Any]) -> list[str]:
    """Names of ``lfs`` in order; refuses duplicates, naming them."""
    names = [lf_name(lf) for lf in lfs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate LF names: {dupes}; every LF needs its own name")
    return names


class PredicateLF(LabelingFunction):
    """A Snorkel row-wise LF built from a yes/no test: votes ``label`` when it holds, else abstains.

    Use :func:`predicate_lf` (or the studio's ``@studio.lf(label=...)``) to make one.
    ``predicate`` and ``label`` stay available for saving and display.
    """

    def __init__(self, name: str, predicate: Callable[[Any], Any], label: int):
        if not callable(predicate):
            raise TypeError(f"LF {name!r}: predicate must be callable, got {predicate!r}")
        if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or label < 0:
            raise ValueError(f"LF {name!r}: label must be an int class id >= 0, got {label!r}")
        label = int(label)

        def vote(x):
            fired = predicate(x)
            if fired is None or fired is False or fired is np.False_:
                return ABSTAIN
            if fired is True or fired is np.True_:
                return label
            raise TypeError(f"declared with label={label}, so it must return True or False (None counts as False); "
                            f"it returned {fired!r}")

        super().__init__(name, vote)
        self.predicate = predicate
        self.label = label


def predicate_lf(name: str, predicate: Callable[[Any], Any], label: int) -> PredicateLF:
    """Row-wise LF that votes ``label`` where ``predicate(x)`` is True and abstains elsewhere.

    Examples
    --------
    >>> from workbench.labeling import Row
    >>> lf = predicate_lf("mentions_channel", lambda x: "channel" in x.text.lower(), label=1)
    >>> lf(Row(text="Visit my CHANNEL")), lf(Row(text="nice"))
    (1, -1)
    """
    return PredicateLF(name, predicate, label)


def lf_kind(lf: Any) -> str:
    """Short kind of an LF for display: keyword, regex, vectorized, predicate or row-wise."""
    if isinstance(lf, VectorizedLF):
        return {"keyword_lf": "keyword", "regex_lf": "regex"}.get(lf.builder or "", "vectorized")
    if isinstance(lf, PredicateLF):
        return "predicate"
    if isinstance(lf, LabelingFunction):
        return "row-wise"
    raise TypeError(f"{lf!r} is not a labeling function (expected a builder LF, @vectorized_lf or a Snorkel LF)")
