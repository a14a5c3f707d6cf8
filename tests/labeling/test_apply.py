import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from snorkel.labeling import PandasLFApplier, labeling_function
from snorkel.preprocess import preprocessor

from workbench.labeling import (
    ABSTAIN,
    LabelCache,
    LFApplier,
    LFApplyError,
    LFFaultWarning,
    Row,
    apply_lfs,
    data_fingerprint,
    keyword_lf,
    label_dtype,
    regex_lf,
    row_objects,
    vectorized_lf,
)


@pytest.fixture
def df():
    return pd.DataFrame({"example_id": ["a", "b", "c", "d"],
                         "text": ["check out my channel", "love this song", "I like it", None]})


@preprocessor(memoize=True)
def lowered(x):
    x.lower = x.text.lower() if isinstance(x.text, str) else ""  # pandas 3: missing text is NaN
    return x


@labeling_function(pre=[lowered])
def lf_love(x):
    return 0 if "love" in x.lower else ABSTAIN


@labeling_function()
def lf_short(x):
    return 0 if isinstance(x.text, str) and len(x.text.split()) <= 3 else ABSTAIN


def test_mixed_lfs_match_snorkel(df):
    lfs = [keyword_lf("kw_my", ["my"], 1), regex_lf("re_song", "song", 0), lf_love, lf_short]
    L = apply_lfs(df, lfs, cache=False, cardinality=2)
    assert L.dtype == np.int8 and L.shape == (4, 4)
    assert L.tolist() == [[1, -1, -1, -1], [-1, 0, 0, 0], [-1, -1, -1, 0], [-1, -1, -1, -1]]
    snorkel_L = PandasLFApplier([lf_love, lf_short]).apply(df, progress_bar=False)
    np.testing.assert_array_equal(L[:, 2:], snorkel_L)


def test_cache_reapplies_only_changed_lf(df):
    calls = SimpleNamespace(runs=0)

    # the counter is a default argument: a global or closure the LF reads would count in its fingerprint
    @vectorized_lf(name="counted")
    def counted(d, calls=calls):
        calls.runs += 1
        return np.full(len(d), ABSTAIN)

    cache = LabelCache()
    kw = keyword_lf("kw", ["my"], 1)
    first = LFApplier([kw, counted], cache=cache, cardinality=2)
    first.apply(df)
    assert first.applied_ == ["kw", "counted"]
    second = LFApplier([keyword_lf("kw", ["love"], 0), counted], cache=cache, cardinality=2)
    L = second.apply(df)
    assert second.applied_ == ["kw"] and calls.runs == 1
    assert L[:, 0].tolist() == [-1, 0, -1, -1]
    # a changed table is a cache miss
    third = LFApplier([counted], cache=cache, cardinality=2)
    third.apply(df.iloc[:2])
    assert third.applied_ == ["counted"]


def test_data_fingerprint_sees_value_changes(df):
    changed = df.copy()
    changed.loc[1, "text"] = "other"
    assert data_fingerprint(df) == data_fingerprint(df.copy())
    assert data_fingerprint(df) != data_fingerprint(changed)


def test_error_names_lf_row_and_original_exception(df):
    @labeling_function()
    def broken(x):
        return 1 if x.text.startswith("I") else ABSTAIN  # None has no startswith

    with pytest.raises(LFApplyError, match=r"LF 'broken' raised AttributeError.*row 3 \(example_id='d'") as info:
        apply_lfs(df, [broken], cache=False, cardinality=2)
    assert isinstance(info.value.__cause__, AttributeError)
    error = info.value
    assert (error.lf, error.kind, error.row, error.example_id) == ("broken", "raised", 3, "d")


def test_apply_errors_carry_fields_that_survive_pickling_and_restate_for_a_whole_table(df):
    import pickle

    with pytest.raises(LFApplyError) as info:
        apply_lfs(df, [keyword_lf("kw", ["my", "I"], 2)], cache=False, cardinality=2)
    error = info.value
    assert (error.lf, error.kind, error.row, error.count) == ("kw", "out_of_range", 0, 2)
    copy = pickle.loads(pickle.dumps(error))  # as Dask ships it from a worker
    assert str(copy) == str(error) and copy.count == 2
    whole = error.at_offset(100, count=7)
    assert (whole.row, whole.count, whole.example_id) == (100, 7, error.example_id)
    assert str(whole) == str(error).replace("row 0 ", "row 100 ").replace("(2 such rows)", "(7 such rows)")


def test_braces_in_what_an_lf_said_are_kept(df):
    @labeling_function()
    def returns_a_dict(x):
        return {"label": 1}

    with pytest.raises(LFApplyError, match=r"returned \{'label': 1\} on row 0"):
        apply_lfs(df, [returns_a_dict], cache=False, cardinality=2)


def test_out_of_range_and_wrong_type_values_are_named(df):
    with pytest.raises(LFApplyError, match=r"LF 'kw' returned label 2 on row 0 \(example_id='a'.*outside -1..1 .*"
                                           r"if the task has 3 or more classes, pass cardinality=dataset.cardinality"):
        apply_lfs(df, [keyword_lf("kw", ["my"], 2)], cache=False, cardinality=2)

    @labeling_function()
    def forgot_return(x):
        if "song" in (x.text or ""):
            return 0

    with pytest.raises(LFApplyError, match=r"'forgot_return' returned None on row 0.*forget `return ABSTAIN`"):
        apply_lfs(df, [forgot_return], cache=False, cardinality=2)

    @labeling_function()
    def returns_text(x):
        return "spam"

    with pytest.raises(LFApplyError, match="returned 'spam'"):
        apply_lfs(df, [returns_text], cache=False, cardinality=2)

    @vectorized_lf()
    def returns_bool(d):
        return d.text.notna().to_numpy()

    with pytest.raises(LFApplyError, match="'returns_bool' returned values of type bool"):
        apply_lfs(df, [returns_bool], cache=False, cardinality=2)


def test_cardinality_comes_from_the_labels_the_lfs_declare(df):
    from workbench.labeling import vectorized_lf

    L = apply_lfs(df, [keyword_lf("kw", ["my"], 4), regex_lf("re", "song", 0)], cache=False)  # five classes
    assert L.max() == 4
    assert LFApplier([keyword_lf("kw", ["my"], 0)]).cardinality == 2  # at least two classes

    @vectorized_lf(labels=[0, 6])
    def two_ways(frame):
        return np.where(frame["text"].str.len() > 10, 6, 0)

    assert LFApplier([two_ways]).cardinality == 7

    @labeling_function()
    def snorkel_lf(x):
        return 1

    with pytest.raises(ValueError, match=r"cannot tell the number of classes: LF\(s\) \['snorkel_lf'\] do not declare "
                                         r"the labels they vote .*pass cardinality= \(dataset.cardinality\)"):
        apply_lfs(df, [keyword_lf("kw", ["my"], 1), snorkel_lf], cache=False)
    assert apply_lfs(df, [snorkel_lf], cardinality=2, cache=False).tolist() == [[1]] * len(df)


def test_multiclass_labels_accepted_up_to_cardinality(df):
    L = apply_lfs(df, [keyword_lf("kw", ["my"], 4)], cardinality=5, cache=False)
    assert L[:, 0].tolist() == [4, -1, -1, -1]
    assert label_dtype(5) == np.int8 and label_dtype(300) == np.int16


def test_fault_tolerant_mode_reports_instead_of_pretending_to_abstain(df):
    @labeling_function()
    def broken(x):
        return 1 if x.text.startswith("c") else ABSTAIN

    applier = LFApplier([keyword_lf("kw", ["my"], 1), broken], cache=False, cardinality=2)
    with pytest.warns(LFFaultWarning, match=r"'broken' failed on 1 row.*not abstentions"):
        L = applier.apply(df, fault_tolerant=True)
    assert L[:, 1].tolist() == [1, -1, -1, -1]
    fault = applier.faults_["broken"]
    assert fault.count == 1 and fault.first_rows[0]["example_id"] == "d"
    assert "AttributeError" in applier.faults_frame().loc[0, "error"]
    assert "kw" not in applier.faults_


def test_faulty_columns_are_not_cached(df):
    state = {"fail": True}

    @labeling_function()
    def flaky(x):
        if state["fail"]:
            raise RuntimeError("boom")
        return ABSTAIN

    cache = LabelCache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LFFaultWarning)
        LFApplier([flaky], cache=cache, cardinality=2).apply(df, fault_tolerant=True)
    assert len(cache) == 0


def test_duplicate_names_refused(df):
    with pytest.raises(ValueError, match="duplicate LF names"):
        apply_lfs(df, [keyword_lf("x", ["a"], 1), keyword_lf("x", ["b"], 1)], cardinality=2)


def test_row_behaves_like_a_series_for_lfs():
    row = Row({"text": "hi"})
    assert row.text == row["text"] == "hi"
    row.extra = 1
    assert row["extra"] == 1
    with pytest.raises(AttributeError):
        row.missing


def test_cache_is_bounded_in_bytes():
    cache = LabelCache(max_bytes=100)
    for i in range(5):
        cache.put((str(i), "d"), np.zeros(60, dtype=np.int8))
    assert len(cache) == 1 and cache.get(("4", "d")) is not None and cache.get(("0", "d")) is None


def test_row_objects_hold_every_column_and_one_row_per_example(df):
    rows = row_objects(df)
    assert [dict(r) for r in rows[:3]] == df.iloc[:3].to_dict("records")
    assert len(row_objects(pd.DataFrame(index=range(3)))) == 3  # no columns: still one row each


def test_prebuilt_row_objects_are_used_and_checked():
    @labeling_function()
    def lf_marked(x):
        return 1 if x.get("marked") else ABSTAIN

    df = pd.DataFrame({"text": ["a", "b"]})
    rows = row_objects(df)
    rows[1]["marked"] = True  # what the caller built is what the LF sees
    applier = LFApplier([lf_marked], cache=False, cardinality=2)
    assert applier.apply(df, rows=rows)[:, 0].tolist() == [ABSTAIN, 1]
    with pytest.raises(ValueError, match="rows has 1 row objects for a table of 2 rows"):
        applier.apply(df, rows=rows[:1])


# --------------------------------------------------------------------------- row-wise LFs on worker processes


class _Unpicklable(Exception):
    """An exception that cannot travel back from a worker process."""

    def __init__(self, message):
        super().__init__(message)
        self.lock = __import__("threading").Lock()


def _tricky_rowwise_lfs():
    """Row-wise LFs that vote, raise (also unpicklably), return bad values, mutate rows, and one lambda."""
    from snorkel.labeling import LabelingFunction

    @labeling_function()
    def raises_late(x):
        if x.text.endswith("7"):
            raise ValueError(f"no {{sevens}} in {x.text}")
        return 1 if "1" in x.text else ABSTAIN

    @labeling_function()
    def returns_none_late(x):
        return None if x.text.endswith("3") else ABSTAIN

    @labeling_function()
    def raises_unpicklable(x):
        if x.text.endswith("5"):
            raise _Unpicklable("locked")
        return ABSTAIN

    return [lf_love, lf_short, LabelingFunction("lam", lambda x: 0 if "2" in x.text else ABSTAIN),
            raises_late, returns_none_late, raises_unpicklable]


@pytest.fixture
def numbered():
    return pd.DataFrame({"example_id": [f"e{i}" for i in range(60)], "text": [f"love row {i}" for i in range(60)]})


def _outcome(lfs, df, n_jobs, tolerant):
    applier = LFApplier(lfs, cache=False, n_jobs=n_jobs, cardinality=2)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            L = applier.apply(df, fault_tolerant=tolerant)
    except LFApplyError as error:
        return ("error", str(error), error.lf, error.kind, error.row, type(error.__cause__))
    return (L.tolist(), applier.faults_frame().to_dict("records"), [str(w.message) for w in caught])


@pytest.mark.parametrize("tolerant", [False, True])
@pytest.mark.parametrize("pick", [slice(0, 3), slice(2, 3), slice(3, 4), slice(4, 5), slice(5, 6), slice(0, 6)])
def test_row_wise_lfs_on_processes_give_the_same_votes_faults_and_errors(numbered, pick, tolerant):
    lfs = _tricky_rowwise_lfs()[pick]
    one = _outcome(lfs, numbered, 1, tolerant)
    on_processes = _outcome(lfs, numbered, 3, tolerant)  # 12 shares of 5 rows on 3 processes
    if tolerant and pick == slice(3, 4):  # a fault in several shares: counted over all, first rows in order
        assert one[1][0]["count"] == 6 and [r["row"] for r in one[1]] == [7, 17, 27, 37, 47]
    if not tolerant and pick == slice(5, 6):  # the exception could not come back from the worker; its text did
        assert one[:5] == on_processes[:5] and one[5] is _Unpicklable and on_processes[5] is RuntimeError
        assert one[1].startswith("LF 'raises_unpicklable' raised _Unpicklable: locked on row 5")
    else:
        assert on_processes == one


def test_row_wise_lfs_use_processes_only_from_a_size_or_when_asked(numbered, monkeypatch):
    import workbench._internal.parallel as parallel

    seen = []

    @labeling_function()
    def remembers(x):  # a side effect: visible here only when the LF runs in this process
        seen.append(x.example_id)
        return ABSTAIN

    LFApplier([remembers], cache=False, cardinality=2).apply(numbered)  # n_jobs=None below PROCESS_MIN_ROWS: this process
    assert len(seen) == len(numbered)
    seen.clear()
    LFApplier([remembers], cache=False, n_jobs=2, cardinality=2).apply(numbered)
    assert seen == []
    monkeypatch.setattr(parallel, "PROCESS_MIN_ROWS", 10)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1})
    LFApplier([remembers], cache=False, cardinality=2).apply(numbered)  # large enough now: all (two) cores
    assert seen == []


def test_without_fork_row_wise_lfs_run_here_and_say_so_once(numbered, monkeypatch):
    import workbench._internal.parallel as parallel

    monkeypatch.setattr(parallel, "CAN_FORK", False)
    monkeypatch.setattr(parallel, "_SAID_NO_FORK", False)
    with pytest.warns(RuntimeWarning, match="row-wise LFs run on one process"):
        first = LFApplier([lf_short], cache=False, n_jobs=2, cardinality=2).apply(numbered)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = LFApplier([lf_short], cache=False, n_jobs=2, cardinality=2).apply(numbered)
    assert first.tolist() == second.tolist() == LFApplier([lf_short], cache=False, n_jobs=1, cardinality=2).apply(numbered).tolist()


def test_a_vectorized_lf_returning_a_reordered_series_votes_on_the_rows_its_index_names(df):
    # a Series in another row order (built from a sorted or regrouped frame) was read by position: votes on wrong rows
    @vectorized_lf()
    def long_first(frame):
        lengths = frame["text"].fillna("").str.len().sort_values()
        return pd.Series(np.where(lengths > 12, 1, ABSTAIN), index=lengths.index)

    expected = [1, 1, -1, -1]  # "check out my channel", "love this song"
    assert apply_lfs(df, [long_first], cardinality=2, progress_bar=False)[:, 0].tolist() == expected
    shifted = df.set_axis([10, 11, 12, 13])
    assert apply_lfs(shifted, [long_first], cardinality=2, progress_bar=False)[:, 0].tolist() == expected
    # a Series of other index labels (made from a list) is still read by position
    @vectorized_lf()
    def from_list(frame):
        return pd.Series([1, -1, -1, 0])

    assert apply_lfs(shifted, [from_list], cardinality=2, progress_bar=False)[:, 0].tolist() == [1, -1, -1, 0]
