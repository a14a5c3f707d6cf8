import re

import numpy as np
import pandas as pd
import pytest
from snorkel.labeling import labeling_function

from workbench.labeling import (
    ABSTAIN,
    VectorizedLF,
    apply_lfs,
    check_unique_names,
    keyword_lf,
    lf_fingerprint,
    lf_source,
    regex_lf,
    vectorized_lf,
)


@pytest.fixture
def df():
    return pd.DataFrame({"text": ["Check out MY channel", "mystery song", None, "subscribe pls", np.nan]})


def test_keyword_lf_matches_whole_words_case_insensitively(df):
    lf = keyword_lf("kw_my", ["my"], 1)
    assert lf(df).tolist() == [1, -1, -1, -1, -1]  # "mystery" is not "my"; missing text abstains


def test_keyword_lf_substring_and_case_sensitive_options(df):
    assert keyword_lf("kw", ["my"], 1, whole_word=False)(df).tolist() == [1, 1, -1, -1, -1]
    assert keyword_lf("kw", ["my"], 1, case_sensitive=True, whole_word=False)(df).tolist() == [-1, 1, -1, -1, -1]


def test_whole_word_keywords_that_start_or_end_with_punctuation_match():
    # "\\b:\\)\\b" needs word characters around ":)", so such keywords never fired on any text
    texts = pd.DataFrame({"text": ["great :)", "I code c++ daily", "win $$$ now", "u.s. army", "great:)", "free💰",
                                   "abc++", "x.com", "ramu.s.", None]})
    lf = keyword_lf("kw", [":)", "c++", "$$$", "u.s.", "💰"], 1)
    # only an edge of the keyword that is a word character must not run on into a longer word ("abc++", "ramu.s.")
    expected = [1, 1, 1, 1, 1, 1, -1, -1, -1, -1]
    assert lf(texts).tolist() == expected
    assert apply_lfs(texts.assign(example_id=[str(i) for i in range(len(texts))]), [lf], cardinality=2,
                     progress_bar=False)[:, 0].tolist() == expected  # the applier's fast path agrees
    words = pd.DataFrame({"text": ["my", "mystery", "(my)", "_my", "my2", "x.com", "x.comma"]})
    assert keyword_lf("kw_my", ["my"], 1)(words).tolist() == [1, -1, 1, -1, -1, -1, -1]
    assert keyword_lf("kw_com", [".com"], 1)(words).tolist() == [-1, -1, -1, -1, -1, 1, -1]


def test_keyword_lf_escapes_regex_characters():
    lf = keyword_lf("kw_com", [".com"], 1, whole_word=False)
    assert lf(pd.DataFrame({"text": ["visit x.com", "xcom"]})).tolist() == [1, -1]


def test_regex_lf(df):
    assert regex_lf("re", r"check.*out", 1)(df).tolist() == [1, -1, -1, -1, -1]
    assert regex_lf("re", r"Check", 0, flags=0)(df).tolist() == [0, -1, -1, -1, -1]


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="invalid regular expression"):
        regex_lf("bad", "(", 1)
    with pytest.raises(ValueError, match="label must be an int"):
        keyword_lf("bad", ["x"], -1)
    with pytest.raises(ValueError, match="label must be an int"):
        keyword_lf("bad", ["x"], True)
    with pytest.raises(ValueError, match="non-empty"):
        keyword_lf("bad", [], 1)


def test_missing_text_column_names_lf_and_column():
    with pytest.raises(KeyError, match="'kw'.*'body'"):
        keyword_lf("kw", ["x"], 1, text_column="body")(pd.DataFrame({"text": ["x"]}))


def test_fingerprint_tracks_parameters():
    a = keyword_lf("kw", ["my"], 1)
    assert lf_fingerprint(a) == lf_fingerprint(keyword_lf("kw", ["my"], 1))
    assert lf_fingerprint(a) != lf_fingerprint(keyword_lf("kw", ["my", "me"], 1))
    assert lf_fingerprint(a) != lf_fingerprint(keyword_lf("kw", ["my"], 0))


def test_fingerprint_tracks_global_data_a_function_reads():
    namespace = {"np": np, "ABSTAIN": ABSTAIN, "vectorized_lf": vectorized_lf, "WORDS": ["a"]}
    code = "@vectorized_lf()\ndef lf(df):\n    return np.where(df.text.isin(WORDS), 1, ABSTAIN)\n"
    exec(code, namespace)
    first = lf_fingerprint(namespace["lf"])
    namespace["WORDS"] = ["a", "b"]
    assert lf_fingerprint(namespace["lf"]) != first


def test_snorkel_lfs_have_source_and_fingerprint():
    @labeling_function()
    def lf_short(x):
        return 0 if len(x.text) < 5 else ABSTAIN

    assert "len(x.text) < 5" in lf_source(lf_short)
    assert len(lf_fingerprint(lf_short)) == 16


def test_to_code_rebuilds_the_same_lf(df):
    lf = keyword_lf("kw_sub", ["subscribe"], 1, whole_word=False)
    rebuilt = eval(lf.to_code(), {"keyword_lf": keyword_lf})
    assert isinstance(rebuilt, VectorizedLF)
    assert rebuilt(df).tolist() == lf(df).tolist()
    assert lf_fingerprint(rebuilt) == lf_fingerprint(lf)
    assert eval(regex_lf("r", r"\d+", 0, flags=re.I).to_code(), {"regex_lf": regex_lf}).params["pattern"] == r"\d+"


def test_duplicate_names_refused():
    with pytest.raises(ValueError, match=r"duplicate LF names: \['a'\]"):
        check_unique_names([keyword_lf("a", ["x"], 1), regex_lf("a", "y", 0)])


def test_fingerprint_tracks_globals_read_inside_comprehensions():
    namespace = {"np": np, "ABSTAIN": ABSTAIN, "vectorized_lf": vectorized_lf, "WORDS": ["a"]}
    code = ("@vectorized_lf()\ndef lf(df):\n"
            "    return np.array([1 if any(w in t for w in WORDS) else ABSTAIN for t in df.text])\n")
    exec(code, namespace)
    first = lf_fingerprint(namespace["lf"])
    namespace["WORDS"] = ["a", "b"]
    assert lf_fingerprint(namespace["lf"]) != first


ROWWISE = '''
from snorkel.labeling import labeling_function

@labeling_function()
def lf_known(x):
    return 1 if x.n in KNOWN else ABSTAIN

@labeling_function()
def lf_config(x):
    return 1 if x.n >= CONFIG.minimum else ABSTAIN

@labeling_function()
def lf_handle(x):
    return 1 if HANDLE.closed or x.n > 1 else ABSTAIN
'''


class Config:
    def __init__(self, minimum):
        self.minimum = minimum


def rowwise_namespace():
    namespace = {"ABSTAIN": ABSTAIN, "KNOWN": np.array([1, 2]), "CONFIG": Config(2)}
    exec(ROWWISE, namespace)
    return namespace


def test_the_votes_of_a_row_wise_lf_follow_the_contents_of_a_global_array_and_object():
    """Global arrays and objects once did not count: changed data kept returning cached votes."""
    from workbench.labeling import apply_lfs

    ns = rowwise_namespace()
    frame = pd.DataFrame({"text": ["a", "b", "c"], "n": [1, 2, 3]})
    lfs = [ns["lf_known"], ns["lf_config"]]
    first = lf_fingerprint(ns["lf_known"]), lf_fingerprint(ns["lf_config"])
    assert apply_lfs(frame, lfs, cardinality=2).tolist() == [[1, -1], [1, 1], [-1, 1]]
    ns["KNOWN"][:] = [2, 3]  # same array object, new content
    ns["CONFIG"].minimum = 3  # same object, new attribute value
    assert apply_lfs(frame, lfs, cardinality=2).tolist() == [[-1, -1], [1, -1], [1, 1]]
    assert (lf_fingerprint(ns["lf_known"]), lf_fingerprint(ns["lf_config"])) != first
    assert lf_fingerprint(ns["lf_known"]) != lf_fingerprint(rowwise_namespace()["lf_known"])
    # and unchanged content gives the same fingerprint, in another object
    ns["KNOWN"] = np.array([1, 2])
    assert lf_fingerprint(ns["lf_known"]) == first[0]


def test_an_lf_reading_what_cannot_be_fingerprinted_bypasses_the_cache_with_a_warning(tmp_path):
    from workbench.labeling import LabelCache, UncachedLFWarning, apply_lfs, lf_cache_key

    ns = rowwise_namespace()
    frame = pd.DataFrame({"text": ["a", "b"], "n": [1, 2]})
    with open(tmp_path / "f.txt", "w") as handle:
        ns["HANDLE"] = handle
        with pytest.warns(UncachedLFWarning, match=r"LF 'lf_handle' reads 'HANDLE' \(a TextIOWrapper\), whose content "
                                                   r"cannot be fingerprinted; its votes are recomputed"):
            assert lf_cache_key(ns["lf_handle"]) is None
        cache = LabelCache()
        with pytest.warns(UncachedLFWarning):
            assert apply_lfs(frame, [ns["lf_handle"], ns["lf_known"]], cache=cache, cardinality=2).tolist() == [[-1, 1], [1, 1]]
    # the file is closed now: a cached column would still say otherwise
    with pytest.warns(UncachedLFWarning):
        assert apply_lfs(frame, [ns["lf_handle"], ns["lf_known"]], cache=cache, cardinality=2).tolist() == [[1, 1], [1, 1]]
    assert len(cache) == 1  # only lf_known's column was cached
