"""Python regular expressions run on pyarrow's RE2, with Python's matches.

pyarrow matches regexes with RE2, 20-40x faster than Python's ``re`` and outside the GIL, but
RE2 is not ``re``: its ``\\w``, ``\\d``, ``\\s`` and ``\\b`` are ASCII-only, its ``\\s`` lacks
``\\v``, its ``$`` ignores a final newline, it has no lookarounds or backreferences, and it
reads some syntax differently (``{,3}``, ``[[:alpha:]]``, octal escapes). :func:`re2_form`
therefore does not hand RE2 the user's pattern: it parses it with Python's own parser and
writes the parsed pattern back out in RE2 syntax, every character class spelled as explicit
ASCII ranges. On ASCII text the two then match the same strings; a pattern with a piece
RE2 cannot express the same way gets ``None`` (and runs on Python's ``re``).

:func:`search` is what builder LFs match with: RE2 on the ASCII texts, Python on the others.
:func:`rewrite_non_ascii` makes non-ASCII texts ASCII, character by character: a word
character (é, ß, 日) becomes ``_``, a whitespace character (no-break space, ideographic
space) ``\\x1f``, any other (emoji, symbols, curly quotes) NUL. The form says which patterns
cannot tell a rewritten text from the original (:class:`workbench.labeling.TextFastPath` runs
LFs on a column rewritten that way):

- ``nul_blind``: the texts without non-ASCII word characters. True when nothing in the
  pattern names NUL, ``\\x1f`` or a non-ASCII character: a non-ASCII whitespace character and
  ``\\x1f`` are then alike to every piece (``\\s``, ``\\S``, ``\\w``, ``\\W``, ``\\d``, ``\\b``, ``.``,
  ASCII classes, negated or not), and so are any other non-word character and NUL.
- ``placeholder_blind``: every text. True when, in addition, nothing names ``_`` or digits
  (``\\d`` tells ``٣`` from ``_``). Under IGNORECASE, Python matches İ ı ſ and the Kelvin sign
  to ASCII letters, so texts holding those must still be read as they are (``ignorecase``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from re import (
    _constants as C,  # the parser's node names (what `re` itself compiles from)
)
from re import _parser

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_ASCII_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_ASCII_DIGIT = [(0x30, 0x39)]
_ASCII_SPACE = [(0x09, 0x0D), (0x1C, 0x20)]  # str.isspace() on ASCII: \t \n \v \f \r, \x1c-\x1f, space
_RE2_MAX_REPEAT = 1000
_NUL, _SPACE_STANDIN, _PLACEHOLDER = 0x00, 0x1F, 0x5F  # what non-ASCII characters become (module docstring)
_WORD, _SPACE = re.compile(r"\w"), re.compile(r"\s")
# Non-ASCII letters Python's `re` matches to an ASCII letter under IGNORECASE (İ ı ſ K; tests check the list).
_ASCII_LETTER_IGNORECASE = re.compile(r"[a-z]", re.IGNORECASE)
_CONFUSABLE = (0x130, 0x131, 0x17F, 0x212A)


class _Unsupported(Exception):
    """A piece RE2 cannot express with the same matches."""


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, start = [], 0
    for lo, hi in sorted(ranges):
        if lo > start:
            out.append((start, lo - 1))
        start = max(start, hi + 1)
    if start <= 0x7F:
        out.append((start, 0x7F))
    return out


_CATEGORIES = {
    C.CATEGORY_WORD: _ASCII_WORD, C.CATEGORY_NOT_WORD: _complement(_ASCII_WORD),
    C.CATEGORY_DIGIT: _ASCII_DIGIT, C.CATEGORY_NOT_DIGIT: _complement(_ASCII_DIGIT),
    C.CATEGORY_SPACE: _ASCII_SPACE, C.CATEGORY_NOT_SPACE: _complement(_ASCII_SPACE),
}
_DIGIT_CATEGORIES = {C.CATEGORY_DIGIT, C.CATEGORY_NOT_DIGIT}
_AT = {C.AT_BEGINNING: "^", C.AT_BEGINNING_STRING: r"\A", C.AT_BOUNDARY: r"\b", C.AT_END_STRING: r"\z"}


def _char(code: int) -> str:
    """One code point, escaped so that RE2 reads it literally in or out of a class."""
    if chr(code).isascii() and chr(code).isalnum():
        return chr(code)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\x{{{code:x}}}"


def _ranges(ranges: list[tuple[int, int]]) -> str:
    return "".join(_char(lo) if lo == hi else f"{_char(lo)}-{_char(hi)}" for lo, hi in ranges)


@dataclass(frozen=True)
class RE2Form:
    """A Python regex written for RE2 (see the module docstring).

    Examples
    --------
    >>> form = re2_form(re.compile(r"\\bsub(?:scribe)?\\b", re.IGNORECASE))
    >>> form.pattern, form.placeholder_blind
    ('(?i)\\\\bsub(?:scribe){0,1}\\\\b', True)
    """

    pattern: str
    nul_blind: bool
    placeholder_blind: bool
    ignorecase: bool


class _Writer:
    def __init__(self, flags: int):
        self.flags = flags
        self.names_stand_in = False  # NUL, \x1f or a non-ASCII character
        self.names_underscore_or_digit = False
        self.ignorecase = bool(flags & re.IGNORECASE)

    def mark(self, lo: int, hi: int) -> None:
        if self.ignorecase and any(lo <= c <= hi for c in _CONFUSABLE):  # RE2 folds İ and ı apart from i
            raise _Unsupported("İ, ı, ſ or K under IGNORECASE")
        if lo <= _NUL or lo <= _SPACE_STANDIN <= hi or hi > 0x7F:
            self.names_stand_in = True
        if lo <= _PLACEHOLDER <= hi:
            self.names_underscore_or_digit = True

    def category(self, category) -> list[tuple[int, int]]:
        if category not in _CATEGORIES:
            raise _Unsupported(str(category))
        self.names_underscore_or_digit |= category in _DIGIT_CATEGORIES
        return _CATEGORIES[category]

    def class_(self, items, negate: bool = False) -> str:
        ranges: list[tuple[int, int]] = []
        for op, av in items:
            if op is C.NEGATE:
                negate = True
            elif op is C.LITERAL:
                self.mark(av, av)
                ranges.append((av, av))
            elif op is C.RANGE:
                self.mark(*av)
                ranges.append(av)
            elif op is C.CATEGORY:
                ranges.extend(self.category(av))
            else:
                raise _Unsupported(str(op))
        if not ranges:
            raise _Unsupported("empty class")
        return ("[^" if negate else "[") + _ranges(sorted(ranges)) + "]"

    def sequence(self, nodes, at_end_ok: bool) -> str:
        """RE2 for a parsed sequence; ``at_end_ok``: nothing can follow it (a Python ``$`` may consume a newline)."""
        nodes = list(nodes)
        return "".join(self.node(op, av, at_end_ok and i == len(nodes) - 1) for i, (op, av) in enumerate(nodes))

    def node(self, op, av, last: bool) -> str:
        if op is C.LITERAL:
            self.mark(av, av)
            return _char(av)
        if op is C.NOT_LITERAL:
            self.mark(av, av)
            return f"[^{_char(av)}]"
        if op is C.ANY:
            return "."
        if op is C.IN:
            return self.class_(av)
        if op is C.CATEGORY:
            return self.class_([(C.CATEGORY, av)])
        if op is C.AT:
            if av in _AT:
                return _AT[av]
            if av is C.AT_END and self.flags & re.MULTILINE:
                return "$"
            if av is C.AT_END and last:  # Python's $ also matches before a final newline
                return r"(?:\n?\z)"
            raise _Unsupported(str(av))  # \B (Python never matches it in an empty string), a $ followed by more
        if op is C.BRANCH:
            return "(?:" + "|".join(self.sequence(branch, last) for branch in av[1]) + ")"
        if op is C.SUBPATTERN:
            _group, add, remove, pattern = av
            local = "".join(f for f, flag in (("i", re.I), ("m", re.M), ("s", re.S)) if add & flag)
            off = "".join(f for f, flag in (("i", re.I), ("m", re.M), ("s", re.S)) if remove & flag)
            if (add | remove) & re.MULTILINE:  # $ is written from the global flags
                raise _Unsupported("local MULTILINE")
            self.ignorecase |= bool(add & re.IGNORECASE)
            spec = local + (f"-{off}" if off else "")
            return f"(?{spec}:" + self.sequence(pattern, last) + ")"
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):  # laziness does not change whether there is a match
            lo, hi, pattern = av
            if lo > _RE2_MAX_REPEAT or (hi != C.MAXREPEAT and hi > _RE2_MAX_REPEAT):
                raise _Unsupported("repeat count over RE2's limit")
            bound = f"{{{lo},}}" if hi == C.MAXREPEAT else f"{{{lo},{hi}}}"
            return "(?:" + self.sequence(pattern, False) + ")" + bound
        raise _Unsupported(str(op))  # lookarounds, backreferences, atomic groups, possessive repeats


@functools.lru_cache(maxsize=1024)  # every LF call and every studio refresh asks again
def re2_form(compiled: re.Pattern) -> RE2Form | None:
    """The RE2 form of a compiled ``str`` pattern, or ``None`` if it has none (see the module docstring)."""
    if not isinstance(compiled.pattern, str):
        return None
    try:
        parsed = _parser.parse(compiled.pattern, compiled.flags)
        writer = _Writer(parsed.state.flags)
        body = writer.sequence(parsed, True)
    except (_Unsupported, re.error, RecursionError):
        return None
    flags = parsed.state.flags
    prefix = "".join(f for f, flag in (("i", re.I), ("m", re.M), ("s", re.S)) if flags & flag)
    nul_blind = not writer.names_stand_in
    return RE2Form(
        pattern=(f"(?{prefix})" if prefix else "") + body,
        nul_blind=nul_blind,
        placeholder_blind=nul_blind and not writer.names_underscore_or_digit,
        ignorecase=writer.ignorecase,
    )


def search(text: pd.Series, compiled: re.Pattern) -> np.ndarray:
    """Whether ``compiled.search`` finds a match in each text of a string Series (a missing text: no).

    Python's matches, found by RE2 in the ASCII texts when the pattern has an RE2 form
    (:func:`re2_form`) and by Python's ``re`` in the others.

    Examples
    --------
    >>> search(pd.Series(["Sub now", "café sub", "nope", None], dtype="string"), re.compile(r"\\bsub\\b", re.I)).tolist()
    [True, True, False, False]
    """
    python_rows = np.flatnonzero(text.notna().to_numpy())
    hits = np.zeros(len(text), dtype=bool)
    form = re2_form(compiled)
    if form is not None and len(text):
        arr = pa.chunked_array(pa.array(text.array, type=pa.large_string(), from_pandas=True))
        try:
            hits = np.asarray(pc.match_substring_regex(arr, form.pattern).fill_null(False), dtype=bool)
            python_rows = np.flatnonzero(~np.asarray(pc.string_is_ascii(arr).fill_null(True), dtype=bool))
        except pa.ArrowInvalid:  # beyond RE2's limits (program size)
            pass
    hits[python_rows] = [compiled.search(t) is not None for t in text.iloc[python_rows]]
    return hits


def _code_points(data: np.ndarray, leads: np.ndarray) -> np.ndarray:
    """Code points of the UTF-8 sequences of ``data`` (bytes) starting at ``leads``."""
    padded = np.concatenate([data, np.zeros(3, dtype=np.uint8)])
    b0, b1, b2, b3 = (padded[leads + k].astype(np.uint32) for k in range(4))
    cont1, cont2, cont3 = b1 & 0x3F, b2 & 0x3F, b3 & 0x3F
    return np.select(
        [b0 < 0x80, b0 < 0xE0, b0 < 0xF0],
        [b0, ((b0 & 0x1F) << 6) | cont1, ((b0 & 0x0F) << 12) | (cont1 << 6) | cont2],
        ((b0 & 0x07) << 18) | (cont1 << 12) | (cont2 << 6) | cont3,
    )


def rewrite_non_ascii(texts: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """``texts`` (a pyarrow string array) made ASCII character by character (see the module docstring).

    Also says, per text, whether it held a non-ASCII word character, and whether it held one
    of İ ı ſ K. Decodes the UTF-8 in NumPy; each distinct non-ASCII character is classified
    by Python's ``re`` itself.

    Examples
    --------
    >>> rewrite_non_ascii(pa.array(["café ❤", "ok"]))[0].to_pylist()
    ['caf_ \\x00', 'ok']
    """
    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    texts = texts.cast(pa.large_string()).fill_null("")
    n = len(texts)
    _, offset_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)[texts.offset: texts.offset + n + 1] if n else np.zeros(1, np.int64)
    empty = n == 0 or data_buffer is None  # arrow may leave out the data of all-empty texts
    data = np.zeros(0, np.uint8) if empty else np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]: offsets[-1]]
    offsets = offsets - offsets[0]
    leads = np.flatnonzero((data & 0xC0) != 0x80)  # where each character starts
    out = data[leads]
    multi = np.flatnonzero(out >= 0x80)
    codes = _code_points(data, leads[multi])
    distinct = np.unique(codes)
    chars = [chr(c) for c in distinct]
    to_byte = np.full(int(distinct[-1]) + 1 if len(distinct) else 1, _NUL, dtype=np.uint8)  # by code point
    kind = np.zeros(len(to_byte), dtype=np.uint8)  # 1: word character, 2: İ ı ſ K
    for code, char in zip(distinct, chars):
        if _WORD.match(char):
            to_byte[code], kind[code] = _PLACEHOLDER, 2 if _ASCII_LETTER_IGNORECASE.match(char) else 1
        elif _SPACE.match(char):
            to_byte[code] = _SPACE_STANDIN
    out[multi] = to_byte[codes]
    row_of = np.searchsorted(offsets, leads[multi], side="right") - 1
    kinds = kind[codes]
    has_word = np.bincount(row_of[kinds >= 1], minlength=n) > 0
    has_confusable = np.bincount(row_of[kinds == 2], minlength=n) > 0
    char_offsets = np.searchsorted(leads, offsets).astype(np.int64)
    rewritten = pa.LargeStringArray.from_buffers(n, pa.py_buffer(char_offsets), pa.py_buffer(out))
    return rewritten, has_word[:n], has_confusable[:n]
