"""RE2 forms of Python regexes: same matches on ASCII text, and honest blindness claims.

The randomized tests draw thousands of patterns from pieces where the two engines differ
(``\\s``, ``$``, ``\\B``, ``{,n}``, classes with ``_`` or NUL, IGNORECASE, local flags) and
compare Python's ``re`` with pyarrow's RE2 on texts built to hit those differences.
"""

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests._helpers import ASCII_CHARS, OTHER_CHARS, compiled_patterns, random_texts
from workbench.labeling import re2_form, rewrite_non_ascii, search
from workbench.labeling._regex import _ASCII_LETTER_IGNORECASE


def python_matches(compiled: re.Pattern, texts: list[str]) -> list[bool]:
    return [compiled.search(t) is not None for t in texts]


def test_known_forms():
    assert re2_form(re.compile(r"\bsub\b", re.I)).pattern == r"(?i)\bsub\b"
    assert re2_form(re.compile(r"x$")).pattern == r"x(?:\n?\z)"  # Python's $ matches before a final newline
    assert re2_form(re.compile(r"x$", re.M)).pattern == "(?m)x$"
    for unsupported in (r"(?<=a)b", r"(.)\1", r"a\Bb", r"x$y", r"(?>a)", r"a++", "\u0130", r"[\u0100-\u0200]"):
        assert re2_form(re.compile(unsupported, re.I)) is None, unsupported
    assert re2_form(re.compile("a{2000}")) is None  # over RE2's repeat limit


@pytest.mark.parametrize(("pattern", "nul", "placeholder"), [
    (r"\bcheck\b.*[^a-z]out\W", True, True), (r"\b(?:19|20)\d\d\b", True, False), (r"sub_x", True, False),
    (r"[ -~]", True, False), (r"gift\scard", True, True), (r"\S+", True, True), (r"\s\d", True, False),
    (r"[\x00-\x1f]", False, False), (r"[\x1f]", False, False),
    (r"[\x80-\xff]", False, False), (r"❤", False, False),
])
def test_blindness(pattern, nul, placeholder):
    form = re2_form(re.compile(pattern))
    assert (form.nul_blind, form.placeholder_blind) == (nul, placeholder)


def test_same_matches_as_python_on_ascii_text():
    checked = 0
    for rng, compiled in compiled_patterns(seed=1, n=3000):
        form = re2_form(compiled)
        if form is None:
            continue
        texts = random_texts(rng, ASCII_CHARS)
        re2 = pc.match_substring_regex(pa.array(texts, pa.large_string()), form.pattern).to_pylist()
        assert re2 == python_matches(compiled, texts), (compiled, form.pattern)
        checked += 1
    assert checked > 1000


@pytest.mark.parametrize("which", ["nul_blind", "placeholder_blind"])
def test_blind_patterns_match_rewritten_text_as_the_original(which):
    """Python's own matches, on the original and on the rewrite the form claims it cannot tell apart."""
    checked = 0
    for rng, compiled in compiled_patterns(seed=2, n=3000):
        form = re2_form(compiled)
        if form is None or not getattr(form, which):
            continue
        texts = [t for t in random_texts(rng, ASCII_CHARS + OTHER_CHARS) if not t.isascii()]
        rewritten, has_word, has_confusable = rewrite_non_ascii(pa.array(texts))
        keep = ~has_word if which == "nul_blind" else ~(has_confusable & form.ignorecase)
        original = np.array(python_matches(compiled, texts))
        after = np.array(python_matches(compiled, rewritten.to_pylist()))
        np.testing.assert_array_equal(after[keep], original[keep], err_msg=str(compiled))
        checked += 1
    assert checked > 300


def test_only_four_non_ascii_characters_match_ascii_under_ignorecase():
    """The rewriting argument: under IGNORECASE a non-ASCII character matches an ASCII one only for İ ı ſ K,
    and those are word characters (rows holding them run as they are for keyword LFs)."""
    ascii_class = re.compile(r"[\x00-\x7f]", re.IGNORECASE)
    confusable = [c for c in map(chr, range(0x80, 0x110000)) if not 0xD800 <= ord(c) <= 0xDFFF and ascii_class.match(c)]
    assert confusable == ["\u0130", "\u0131", "\u017f", "\u212a"]  # İ ı ſ and the Kelvin sign
    assert all(_ASCII_LETTER_IGNORECASE.match(c) and re.match(r"\w", c) for c in confusable)


def test_search_is_python_search_on_any_text():
    """RE2 on ASCII texts, Python on the rest, Python on everything for patterns without an RE2 form."""
    checked_without_form = 0
    for rng, compiled in compiled_patterns(seed=5, n=1500):
        texts = random_texts(rng, ASCII_CHARS + OTHER_CHARS)
        hits = search(pd.Series(texts, dtype="string"), compiled)
        assert hits.tolist() == python_matches(compiled, texts), compiled
        checked_without_form += re2_form(compiled) is None
    assert checked_without_form > 50
    assert search(pd.Series([], dtype="string"), re.compile("a")).tolist() == []


@pytest.mark.parametrize("dtype", [object, "string", pd.StringDtype("pyarrow"), pd.StringDtype("python")])
@pytest.mark.parametrize("pattern", [r"\bsub\b", r"(?<=s)ub"])  # with an RE2 form, and without one (a lookbehind)
def test_search_finds_nothing_in_a_missing_text(dtype, pattern):
    texts = pd.Series(["sub", None, "café sub", None, "nope"], dtype=dtype)
    assert search(texts, re.compile(pattern)).tolist() == [True, False, True, False, False]
    assert search(pd.Series([None, None], dtype=dtype), re.compile(pattern)).tolist() == [False, False]
