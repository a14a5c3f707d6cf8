"""The Dask engine returns the local engine's L and faults; the local fast path changes no vote."""

import multiprocessing
import random
import threading
import warnings

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster, default_client
from snorkel.labeling import labeling_function

from tests._helpers import ASCII_CHARS, OTHER_CHARS, compiled_patterns, random_texts
from workbench.data.youtube_lfs import YOUTUBE_LFS
from workbench.labeling import (
    ABSTAIN,
    DaskLFApplier,
    LFApplier,
    LFApplyError,
    LFFaultWarning,
    RemoteTraceback,
    TextFastPath,
    apply_dask,
    apply_lfs,
    keyword_lf,
    label_dtype,
    regex_lf,
    vectorized_lf,
)

N_PARTS = 4


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(scope="module")
def corpus():
    """200 rows whose text says which row it is, so a fault's row is known in advance."""
    n = 200
    return pd.DataFrame({"example_id": [f"id{i}" for i in range(n)],
                         "text": [f"comment {i} " + ("check out my channel" if i % 3 == 0 else "great song") for i in range(n)],
                         "n": np.arange(n)})


def local_and_dask(df, lfs, client, *, cardinality=2, fault_tolerant=False):
    """(L or error message or warning text) from both engines, for comparison."""
    results = []
    for applier in (LFApplier(lfs, cardinality, cache=False),
                    DaskLFApplier(lfs, cardinality, client=client, npartitions=N_PARTS)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                L = applier.apply(df, fault_tolerant=fault_tolerant)
            except LFApplyError as exc:
                results.append(("error", str(exc), exc))
                continue
        faults = [str(w.message) for w in caught if issubclass(w.category, LFFaultWarning)]
        results.append(("L", L, faults, applier.faults_frame()))
    return results


@pytest.mark.slow
def test_same_L_as_local_on_youtube(youtube, client):
    local, dask_ = local_and_dask(youtube.train, YOUTUBE_LFS, client)
    assert local[0] == dask_[0] == "L"
    assert dask_[1].dtype == np.int8 and dask_[1].shape == (len(youtube.train), len(YOUTUBE_LFS))
    np.testing.assert_array_equal(dask_[1], local[1])
    assert (local[1] != ABSTAIN).any()


@pytest.mark.slow
def test_dask_dataframe_input_keeps_its_partitions_and_row_order(youtube, client):
    ddf = dd.from_pandas(youtube.train, npartitions=3)
    L = apply_lfs(ddf, YOUTUBE_LFS, engine="dask", client=client, cardinality=2)
    np.testing.assert_array_equal(L, apply_lfs(youtube.train, YOUTUBE_LFS, cache=False, cardinality=2))


@pytest.mark.parametrize("cardinality", [2, 3, 200])
@pytest.mark.slow
def test_every_label_dtype(corpus, client, cardinality):
    @vectorized_lf(name="mod_k")
    def mod_k(df):
        return np.where(df["n"] % 5 == 0, ABSTAIN, df["n"] % cardinality)

    @labeling_function(name="row_mod_k")
    def row_mod_k(x):
        return (x.n * 7) % cardinality if x.n % 4 else ABSTAIN

    top = keyword_lf("kw_top", ["channel"], cardinality - 1)  # a builder LF voting the largest label
    local, dask_ = local_and_dask(corpus, [mod_k, row_mod_k, top], client, cardinality=cardinality)
    assert dask_[1].dtype == label_dtype(cardinality) == local[1].dtype
    np.testing.assert_array_equal(dask_[1], local[1])
    assert dask_[1].max() == min(cardinality, len(corpus)) - 1  # labels up to k-1 survive (199 needs int16)
    assert set(local[1][:, 2]) == {ABSTAIN, cardinality - 1}


def rowwise_raises_late():
    @labeling_function()
    def raises_late(x):
        if x.n >= 150:
            raise ValueError(f"cannot read row {x.n}")
        return ABSTAIN
    return [raises_late], "row 150 (example_id='id150'"


def rowwise_returns_none():
    @labeling_function()
    def forgets_abstain(x):
        if x.n == 120:
            return None
        return 1
    return [forgets_abstain], "returned None on row 120 (example_id='id120'"


def vectorized_raises():
    @vectorized_lf()
    def broken(df):
        return df["no_such_column"]
    return [broken], "LF 'broken' raised KeyError"


def out_of_range_in_several_partitions():
    @vectorized_lf()
    def too_big(df):
        return np.where(df["n"] % 40 == 39, 5, ABSTAIN)
    return [too_big], "returned label 5 on row 39 (example_id='id39'"  # and "(5 such rows)" over the table


def float_labels_late():
    @vectorized_lf()
    def halves(df):
        return np.where(df["n"] == 170, 0.5, 1.0)
    return [halves], "on row 170 (example_id='id170'"


def first_failing_lf_wins():
    """LF order decides, as in the local engine: the later LF fails earlier in the table."""
    @labeling_function()
    def fails_late(x):
        if x.n == 190:
            raise RuntimeError("late")
        return ABSTAIN

    @labeling_function()
    def fails_early(x):
        if x.n == 3:
            raise RuntimeError("early")
        return ABSTAIN
    return [fails_late, fails_early], "LF 'fails_late' raised RuntimeError: late on row 190"


def raise_beats_out_of_range():
    """An LF raising in a later partition outranks its out-of-range labels in an earlier one."""
    @vectorized_lf()
    def mixed(df):
        if (df["n"] >= 150).any():
            raise ValueError("bad partition")
        return np.where(df["n"] == 10, 9, ABSTAIN)
    return [mixed], "LF 'mixed' raised ValueError: bad partition"


FAULTS = [rowwise_raises_late, rowwise_returns_none, vectorized_raises, out_of_range_in_several_partitions,
          float_labels_late, first_failing_lf_wins, raise_beats_out_of_range]


@pytest.mark.parametrize("make", FAULTS, ids=[f.__name__ for f in FAULTS])
@pytest.mark.slow
def test_strict_fault_messages_are_the_local_ones(corpus, client, make):
    lfs, expected = make()
    local, dask_ = local_and_dask(corpus, lfs, client)
    assert local[0] == dask_[0] == "error"
    assert expected in local[1]
    assert dask_[1] == local[1]


@pytest.mark.slow
def test_out_of_range_count_is_over_the_whole_table(corpus, client):
    lfs, _ = out_of_range_in_several_partitions()
    _, dask_ = local_and_dask(corpus, lfs, client)
    assert "outside -1..1 (5 such rows)" in dask_[1]


@pytest.mark.slow
def test_worker_traceback_is_chained(corpus, client):
    lfs, _ = rowwise_raises_late()
    _, dask_ = local_and_dask(corpus, lfs, client)
    cause = dask_[2].__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "in raises_late" in str(cause) and "ValueError: cannot read row 150" in str(cause)


@pytest.mark.slow
def test_fault_tolerant_mode_reports_global_rows(corpus, client):
    lfs = [*rowwise_raises_late()[0], *out_of_range_in_several_partitions()[0], *vectorized_raises()[0]]
    local, dask_ = local_and_dask(corpus, lfs, client, fault_tolerant=True)
    assert local[0] == dask_[0] == "L"
    np.testing.assert_array_equal(dask_[1], local[1])
    assert dask_[2] == local[2] and len(dask_[2]) == 1
    pd.testing.assert_frame_equal(dask_[3], local[3])
    frame = dask_[3].set_index("lf")
    assert frame.loc["raises_late", "row"].tolist() == [150, 151, 152, 153, 154]
    assert frame.loc["raises_late", "count"].iloc[0] == 50
    assert frame.loc["too_big", "row"].tolist() == [39, 79, 119, 159, 199]
    assert frame.loc["broken", "row"].tolist() == [0, 1, 2, 3, 4]
    assert frame.loc["broken", "count"].iloc[0] == len(corpus)


@pytest.mark.slow
def test_temporary_local_cluster_is_shut_down(corpus):
    lfs = [keyword_lf("kw_check", ["check"], 1), *rowwise_returns_none()[0]]
    before = {p.pid for p in multiprocessing.active_children()}  # the module's cluster may be running
    with pytest.warns(LFFaultWarning, match="forgets_abstain"):
        L = apply_dask(corpus, lfs, fault_tolerant=True, cardinality=2)
    with pytest.warns(LFFaultWarning):
        np.testing.assert_array_equal(L, apply_lfs(corpus, lfs, cache=False, fault_tolerant=True, cardinality=2))
    assert {p.pid for p in multiprocessing.active_children()} <= before
    with pytest.raises(ValueError, match="No clients found"):
        default_client()


@pytest.mark.slow
def test_scheduler_address(corpus, client):
    lfs = [keyword_lf("kw_song", ["song"], 0)]
    L = apply_lfs(corpus, lfs, engine="dask", scheduler=client.scheduler.address, cardinality=2)
    np.testing.assert_array_equal(L, apply_lfs(corpus, lfs, cache=False, cardinality=2))


@pytest.mark.slow
def test_empty_table(corpus, client):
    L = apply_dask(corpus.iloc[:0], YOUTUBE_LFS[:2], client=client, cardinality=2)
    assert L.shape == (0, 2) and L.dtype == np.int8


@pytest.mark.slow
def test_engine_arguments_are_checked(corpus, client):
    lfs = [keyword_lf("kw_song", ["song"], 0)]
    with pytest.raises(ValueError, match="engine must be"):
        apply_lfs(corpus, lfs, engine="spark", cardinality=2)
    with pytest.raises(ValueError, match="for engine='dask'"):
        apply_lfs(corpus, lfs, client=client, cardinality=2)
    with pytest.raises(ValueError, match="does not cache"):
        apply_lfs(corpus, lfs, engine="dask", client=client, cache=True, cardinality=2)
    with pytest.raises(ValueError, match="either client= or scheduler="):
        apply_dask(corpus, lfs, client=client, scheduler="tcp://127.0.0.1:1", cardinality=2)
    with pytest.raises(TypeError, match="pandas or Dask DataFrame"):
        apply_dask(corpus.to_dict(), lfs, client=client, cardinality=2)


@pytest.mark.slow
def test_unpicklable_lf_is_named(corpus, client):
    lock = threading.Lock()

    @labeling_function()
    def holds_a_lock(x):
        with lock:
            return ABSTAIN

    with pytest.raises(TypeError, match="LF 'holds_a_lock' cannot be sent to Dask workers"):
        apply_dask(corpus, [keyword_lf("kw_song", ["song"], 0), holds_a_lock], client=client, cardinality=2)


# --- the local engine's text fast path (TextFastPath) ---

TRICKY = ["sub❤", "subé", "sub", "café sub", "K is kelvin", "k", "gift\xa0card", "gift card!", None, "cafe\u0301 sub",
          "I ❤ my song", "my❤song", "émy", "ſub", "SUB", "check ❤ out", "٣ views", "3 views", "x\u200bsub",
          "naïve my", "💯💯 plz", "tab\x0bsub", "", "plain ascii my sub", "a × b", "❤😊 twice", "gift\u3000card",
          "İstanbul my", "ıt is sub", "\u212a k", "\u212a", "sub_my", "sub_é my", "日本 sub", "sub日本", "_sub", "my\x00sub"]
TRICKY_LFS = [
    keyword_lf("kw_sub_my", ["sub", "my"], 1), keyword_lf("kw_gift", ["gift card"], 1), keyword_lf("kw_k", ["k"], 0),
    keyword_lf("kw_s_part", ["s"], 0, whole_word=False), keyword_lf("kw_cafe", ["café"], 1),
    keyword_lf("kw_SUB", ["SUB"], 1, case_sensitive=True), keyword_lf("kw_body", ["sub"], 1, text_column="body"),
    keyword_lf("kw_underscore", ["sub_my"], 1), keyword_lf("kw_i", ["i", "it"], 0), keyword_lf("kw_big_label", ["sub"], 2),
    regex_lf("re_sub", r"\bsub\b", 1), regex_lf("re_views", r"\d+\s*views", 0), regex_lf("re_non_ascii", r"[^\x00-\x7f]", 1),
    regex_lf("re_word_heart", r"\w+❤", 1), regex_lf("re_check_out", r"check.*out", 1), regex_lf("re_no_word", r"^\W*$", 0),
    regex_lf("re_latin1", r"[\x80-\xff]", 1), regex_lf("re_not_printable", r"[^ -~]", 1), regex_lf("re_double", r"(.)\1", 1),
    regex_lf("re_gift_space", r"gift\scard", 1), regex_lf("re_word_end", r"\w\b", 1, flags=0),
    regex_lf("re_underscore", r"_", 1), regex_lf("re_word_run", r"\w{3}", 1),
]


@pytest.fixture
def fast_path_always(monkeypatch):
    monkeypatch.setattr(TextFastPath, "MIN_ROWS", 0)


@pytest.mark.filterwarnings("ignore:This pattern is interpreted as a regular expression")  # (.)\1 has a group
@pytest.mark.parametrize("n_jobs", [1, 3])
def test_fast_path_votes_like_the_lfs_themselves(fast_path_always, n_jobs):
    """Rewriting non-ASCII characters and running LFs on threads must not change a single vote, whatever the text."""
    df = pd.DataFrame({"text": TRICKY * 2, "body": TRICKY[::-1] * 2, "other": range(2 * len(TRICKY))})
    path = TextFastPath(df["text"])
    path.prepare()
    slow = {route: len(rows) for route, rows in path.slow_rows.items()}
    assert not path.direct and 0 < slow["confusable"] < slow["word"] < slow["non_ascii"]  # most non-ASCII rows run on RE2
    L = apply_lfs(df, TRICKY_LFS, cardinality=3, cache=False, n_jobs=n_jobs)
    expected = np.column_stack([lf(df) for lf in TRICKY_LFS])  # each LF on the whole column at once
    np.testing.assert_array_equal(L, expected)
    assert L[TRICKY.index("sub❤"), 0] == 1 and L[TRICKY.index("subé"), 0] == ABSTAIN  # emoji is a boundary, é is not
    assert L[TRICKY.index("ſub"), 0] == 1  # Python's re folds ſ to s under IGNORECASE
    assert L[TRICKY.index("sub_my"), 7] == 1 and L[TRICKY.index("sub_é my"), 7] == ABSTAIN


def test_which_rows_each_lf_reads_as_they_are(fast_path_always):
    path = TextFastPath(pd.Series(TRICKY))
    assert path.route(keyword_lf("kw", ["sub", "gift card", ".com"], 1))[1] == "confusable"  # İ ı ſ K under IGNORECASE
    assert path.route(keyword_lf("kw", ["sub"], 1, case_sensitive=True))[1] == "none"
    assert path.route(keyword_lf("kw", ["sub_my"], 1))[1] == "word"  # `_` is what word characters become
    assert path.route(keyword_lf("kw", ["café"], 1))[1] == "non_ascii"
    assert path.route(regex_lf("re", r"\b(?:19|20)\d\d\b", 1))[1] == "word"  # \d tells ٣ from `_`
    assert path.route(regex_lf("re", r"(?<=a)b", 1)) == (None, "all")  # no RE2 form: Python on every row


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:This pattern is interpreted as a regular expression")
def test_random_regex_lfs_vote_like_themselves(fast_path_always):
    rng = random.Random(3)
    texts = random_texts(rng, ASCII_CHARS + OTHER_CHARS, n=300)
    df = pd.DataFrame({"text": texts})
    lfs = [regex_lf(f"re_{i}", compiled.pattern, 1, flags=compiled.flags)
           for i, (_, compiled) in enumerate(compiled_patterns(seed=4, n=400))]
    np.testing.assert_array_equal(apply_lfs(df, lfs, cache=False, cardinality=2), np.column_stack([lf(df) for lf in lfs]))


def test_fast_path_on_youtube_comments(youtube, fast_path_always):
    builders = [lf for lf in YOUTUBE_LFS if getattr(lf, "builder", None)]
    df = youtube.train
    np.testing.assert_array_equal(apply_lfs(df, builders, cache=False, cardinality=2), np.column_stack([lf(df) for lf in builders]))


def test_small_columns_run_the_lfs_as_they_are():
    assert TextFastPath(pd.Series(["❤ sub"] * 10)).direct
    path = TextFastPath(pd.Series(["plain sub"] * TextFastPath.MIN_ROWS))
    path.prepare()
    assert not path.direct and all(len(rows) == 0 for rows in path.slow_rows.values())


def test_n_jobs_is_checked():
    with pytest.raises(ValueError, match="n_jobs must be None or an int >= 1"):
        apply_lfs(pd.DataFrame({"text": ["a"]}), [keyword_lf("kw", ["a"], 1)], n_jobs=0, cardinality=2)
