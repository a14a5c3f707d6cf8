"""LF Studio state: registry, incremental refresh, statistics, errors, history, saving, label models."""

import importlib.util
import json
import linecache
import re
import threading
import types

import numpy as np
import pandas as pd
import pytest
from snorkel.labeling import LFAnalysis, labeling_function

from tests._helpers import accuracy_weighted_vote
from workbench.data import Dataset
from workbench.data.youtube_lfs import YOUTUBE_LFS
from workbench.generate import LABEL_MODELS
from workbench.labeling import (
    ABSTAIN,
    LabelCache,
    LabelModelRefitter,
    LFHistory,
    LFSaveError,
    StudioState,
    apply_lfs,
    form_lf,
    keyword_lf,
    lf_from_spec,
    lf_kind,
    lf_spec,
    lfs_to_code,
    predicate_lf,
    regex_lf,
    vectorized_lf,
)

HAM, SPAM = 0, 1
TRAIN = ["check out my channel", "love this song", "subscribe to my channel please", "great song",
         "free money here", "this song is my favourite", "win a free gift card", "beautiful voice"]
DEV = ["visit my channel", "best song ever", "free iphone", "nice", "subscribe please", "my song"]
DEV_Y = [SPAM, HAM, SPAM, HAM, SPAM, HAM]


def make_dataset(train=TRAIN, dev=DEV, dev_y=DEV_Y) -> Dataset:
    tr = pd.DataFrame({"example_id": [f"t{i}" for i in range(len(train))], "text": train})
    dv = pd.DataFrame({"example_id": [f"d{i}" for i in range(len(dev))], "text": dev, "label": dev_y})
    return Dataset(name="toy", splits={"train": tr, "dev": dv}, class_names=["ham", "spam"])


def cell(source: str, namespace: dict) -> dict:
    """Run ``source`` as a notebook cell would: in ``__main__``'s namespace, source kept in linecache."""
    filename = f"<notebook-cell-{abs(hash(source))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace.setdefault("__name__", "__main__")
    exec(compile(source, filename, "exec"), namespace)
    return namespace


@pytest.fixture
def state():
    s = StudioState(make_dataset(), label_model="majority", cache=LabelCache())
    yield s
    s.close()


def test_add_refresh_summary_and_dev_accuracy(state):
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    state.add(keyword_lf("kw_song", ["song"], HAM))
    snap = state.refresh()
    assert snap.names == ["kw_my", "kw_song"]
    assert snap.L_train[:, 0].tolist() == [1, -1, 1, -1, -1, 1, -1, -1]
    assert snap.L_train[:, 1].tolist() == [-1, 0, -1, 0, -1, 0, -1, -1]
    s = snap.summary
    assert s.loc["kw_my", "Coverage"] == pytest.approx(3 / 8)
    assert s.loc["kw_my", "Overlaps"] == pytest.approx(1 / 8)  # row 5 "this song is my favourite"
    assert s.loc["kw_my", "Conflicts"] == pytest.approx(1 / 8)
    # dev: kw_my fires on "visit my channel" (spam, right) and "my song" (ham, wrong)
    assert s.loc["kw_my", ["Dev Correct", "Dev Incorrect"]].tolist() == [1, 1]
    assert s.loc["kw_my", "Dev Acc."] == pytest.approx(0.5)
    assert s.loc["kw_song", "Dev Acc."] == pytest.approx(1.0)
    assert s.loc["kw_my", "Status"] == "on" and s.loc["kw_my", "Kind"] == "keyword"
    assert snap.total_coverage == pytest.approx(5 / 8)
    assert snap.conflict_rate == pytest.approx(1 / 8)


def test_summary_matches_snorkel_lfanalysis():
    from workbench.data import load_youtube_spam

    ds = load_youtube_spam()
    state = StudioState(ds, label_model="majority", cache=LabelCache())
    for lf in YOUTUBE_LFS:
        state.add(lf)
    snap = state.refresh()
    expected = LFAnalysis(snap.L_train.astype(int), lfs=YOUTUBE_LFS).lf_summary()
    for col in ("Coverage", "Overlaps", "Conflicts"):
        np.testing.assert_allclose(snap.summary[col].to_numpy(float), expected[col].to_numpy(float), err_msg=col)
    assert snap.summary["Polarity"].tolist() == expected["Polarity"].tolist()
    dev = LFAnalysis(snap.L_dev.astype(int), lfs=YOUTUBE_LFS).lf_summary(ds.gold("dev"))
    np.testing.assert_allclose(snap.summary["Dev Acc."].to_numpy(float), dev["Emp. Acc."].to_numpy(float))
    expected_rate = np.mean([len(set(r[r != -1])) > 1 for r in snap.L_train])
    assert snap.conflict_rate == pytest.approx(expected_rate)


def test_replace_keeps_position_and_switch_and_records_versions(state):
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    state.add(keyword_lf("kw_song", ["song"], HAM))
    state.refresh()
    state.disable("kw_my")
    version = state.add(keyword_lf("kw_my", ["my", "free"], SPAM))
    assert version.version == 2
    assert state.add(keyword_lf("kw_my", ["my", "free"], SPAM)) is None  # same code: no new version
    snap = state.refresh()
    assert state.names == ["kw_my", "kw_song"]
    assert snap.names == ["kw_song"]  # still switched off
    assert snap.summary.loc["kw_my", "Status"] == "off"
    assert snap.summary.loc["kw_my", "Version"] == 2
    assert snap.applied == ["kw_my"]
    state.enable("kw_my")
    snap = state.refresh()
    assert snap.names == ["kw_my", "kw_song"] and snap.applied == []
    assert snap.L_train[:, 0].tolist() == [1, -1, 1, -1, 1, 1, 1, -1]


def test_off_lf_is_compared_with_the_active_set(state):
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    state.add(keyword_lf("kw_song", ["song"], HAM))
    state.add(keyword_lf("kw_free", ["free"], SPAM), enabled=False)
    snap = state.refresh()
    assert snap.names == ["kw_my", "kw_song"]
    off = snap.summary.loc["kw_free"]
    assert off["Coverage"] == pytest.approx(2 / 8)  # rows 4, 6
    assert off["Overlaps"] == pytest.approx(0.0)
    assert pd.isna(off["j"])
    state.add(keyword_lf("kw_free", ["free", "song"], SPAM), enabled=False)
    off = state.refresh().summary.loc["kw_free"]
    assert off["Overlaps"] == pytest.approx(3 / 8)  # song rows 1, 3, 5 overlap kw_song
    assert off["Conflicts"] == pytest.approx(3 / 8)  # ... and disagree with it


def test_remove_keeps_history(state):
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    state.add(keyword_lf("kw_song", ["song"], HAM))
    state.refresh()
    state.remove("kw_my")
    snap = state.refresh()
    assert snap.names == ["kw_song"] and list(snap.summary.index) == ["kw_song"]
    assert [v.name for v in state.history.versions("kw_my")] == ["kw_my"]
    with pytest.raises(KeyError, match="no LF named 'nope'"):
        state.remove("nope")


def test_only_the_changed_lf_is_reapplied(state):
    calls = types.SimpleNamespace(n=0)  # a default argument: a global the LF reads would count in its fingerprint
    ns = cell("def shouty(x, calls=CALLS):\n    calls.n += 1\n    return x.text.isupper()\n", {"CALLS": calls})
    state.add(predicate_lf("shouty", ns["shouty"], SPAM))
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    state.refresh()
    assert calls.n == len(TRAIN) + len(DEV)
    state.add(keyword_lf("kw_my", ["my", "song"], SPAM))
    snap = state.refresh()
    assert snap.applied == ["kw_my"]
    assert calls.n == len(TRAIN) + len(DEV)  # the row-wise LF did not run again


def test_edit_of_a_global_an_lf_reads_is_picked_up(state):
    ns = cell("WORDS = ['song']\ndef says_word(x):\n    return any(w in x.text for w in WORDS)\n", {})
    state.add(predicate_lf("says_word", ns["says_word"], HAM))
    assert state.refresh().summary.loc["says_word", "Coverage"] == pytest.approx(3 / 8)
    assert not state.needs_refresh()
    cell("WORDS = ['song', 'voice']\n", ns)
    assert state.needs_refresh()
    snap = state.refresh()
    assert snap.applied == ["says_word"]
    assert snap.summary.loc["says_word", "Coverage"] == pytest.approx(4 / 8)
    assert len(state.history.versions("says_word")) == 2


def test_edit_of_a_global_read_inside_a_comprehension_is_picked_up(state):
    source = ("SPAMMY = ['free']\n"
              "def spammy(x):\n    return len([w for w in x.text.split() if w in SPAMMY]) > 0\n")
    ns = cell(source, {})
    state.add(predicate_lf("spammy", ns["spammy"], SPAM))
    assert state.refresh().summary.loc["spammy", "Coverage"] == pytest.approx(2 / 8)
    cell("SPAMMY = ['free', 'channel']\n", ns)
    assert state.needs_refresh()
    snap = state.refresh()
    assert snap.applied == ["spammy"] and snap.summary.loc["spammy", "Coverage"] == pytest.approx(4 / 8)


def test_failing_lf_is_reported_and_isolated(state):
    ns = cell("def picky(x):\n    if 'free' in x.text:\n        raise ValueError('no free stuff')\n    return False\n", {})
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    state.add(predicate_lf("picky", ns["picky"], SPAM))
    snap = state.refresh()
    assert snap.names == ["kw_my"]  # left out of L
    assert snap.summary.loc["picky", "Status"] == "error"
    train_error = [e for e in snap.errors if e.split == "train"][0]
    assert train_error.lf == "picky" and train_error.count == 2 and train_error.n_rows == 8
    assert train_error.rows[0]["row"] == 4 and train_error.rows[0]["example_id"] == "t4"
    assert "ValueError: no free stuff" in train_error.message() and "'picky'" in train_error.message()
    assert state.history.latest("picky").stats == {"error": snap.errors[0].message()}
    fixed = cell("def picky(x):\n    return 'free' in x.text\n", {})
    state.add(predicate_lf("picky", fixed["picky"], SPAM))
    snap = state.refresh()
    assert snap.errors == [] and snap.names == ["kw_my", "picky"]


def test_bad_return_values_are_errors_naming_lf_and_row(state):
    ns = cell("def wordy(x):\n    return 'spam' if 'my' in x.text else ABSTAIN\n", {"ABSTAIN": ABSTAIN})
    state.add(labeling_function(name="wordy")(ns["wordy"]))
    state.add(vectorized_lf(name="short")(lambda df: np.zeros(3)))
    state.add(predicate_lf("truthy", lambda x: 1, SPAM))
    state.add(keyword_lf("kw_song", ["song"], HAM))
    snap = state.refresh()
    assert snap.names == ["kw_song"]
    messages = {e.lf: e.message() for e in snap.errors if e.split == "train"}
    assert "'spam'" in messages["wordy"] and "row 0" in messages["wordy"]
    assert "shape" in messages["short"] and "the whole table" in messages["short"]
    assert "must return True or False" in messages["truthy"]


def test_predicate_lf_votes_and_checks():
    lf = predicate_lf("has_channel", lambda x: "channel" in x["text"], SPAM)
    assert lf({"text": "my channel"}) == SPAM and lf({"text": "hi"}) == ABSTAIN
    assert lf_kind(lf) == "predicate" and lf_kind(keyword_lf("k", ["a"], 1)) == "keyword"
    with pytest.raises(ValueError, match="label must be an int"):
        predicate_lf("bad", lambda x: True, "spam")


def test_builder_lfs_on_the_split_text_path_vote_as_themselves(youtube):
    """The studio runs keyword/regex LFs on each split's rewritten text column (workbench.labeling.TextFastPath)."""
    tricky = ["ſubscribe now", "SUBSCRIBE", "my KITTEN", "İstanbul my", "my\u00a0channel", "emoji 🎵 song", None, "",
              "Straße free", "k\u212aelvin", "sub-scribe", "C.O.M", "check www.site.com"]
    df = pd.concat([youtube.train[["example_id", "text"]],
                    pd.DataFrame({"example_id": [f"x{i}" for i in range(len(tricky))], "text": tricky})], ignore_index=True)
    lfs = [lf for lf in YOUTUBE_LFS if getattr(lf, "builder", None) == "keyword_lf"] + [
        keyword_lf("kw_case", ["SUB", "My"], SPAM, case_sensitive=True), keyword_lf("kw_kitten", ["kitten", "s"], HAM),
        keyword_lf("kw_punct", ["c.o.m", "sub-scribe"], SPAM, whole_word=False), regex_lf("re_space", r"my\schannel", SPAM)]
    state = StudioState(Dataset("t", {"train": df}, ["ham", "spam"]), dev_split=None, label_model="majority",
                        cache=LabelCache())
    for lf in lfs:
        state.add(lf)
    snap = state.refresh()
    np.testing.assert_array_equal(snap.L_train, np.column_stack([lf(df) for lf in lfs]))


def test_history_records_are_plain_data(state):
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    state.add(keyword_lf("kw_song", ["song"], HAM))
    state.refresh()
    state.add(keyword_lf("kw_my", ["my channel"], SPAM))
    state.add(keyword_lf("kw_voice", ["voice"], HAM))  # no dev votes: its dev accuracy is missing, not NaN
    state.refresh()
    records = state.history.to_records()
    assert [(r["name"], r["version"]) for r in records] == [("kw_my", 1), ("kw_my", 2), ("kw_song", 1), ("kw_voice", 1)]
    json.dumps(records, allow_nan=False)  # strict JSON: storable as is
    assert records[3]["stats"]["dev_accuracy"] is None and records[3]["stats"]["dev_votes"] == 0
    v1, v2 = records[0], records[1]
    assert "keywords=['my']" in v1["source"] and "['my channel']" in v2["source"]
    assert v1["stats"]["dev_accuracy"] == pytest.approx(0.5) and v2["stats"]["dev_accuracy"] == pytest.approx(1.0)
    assert v1["stats"]["dev_votes"] == 2 and v2["stats"]["dev_votes"] == 1
    assert v2["stats"]["coverage"] == pytest.approx(2 / 8)
    assert set(v2) >= {"name", "source", "stats", "fingerprint", "created_at"}
    frame = state.history.to_frame("kw_my")
    assert frame["version"].tolist() == [1, 2] and "dev_accuracy" in frame


def test_history_skips_unchanged_versions():
    h = LFHistory()
    assert h.record("a", "src", "f1", "keyword").version == 1
    assert h.record("a", "src", "f1", "keyword") is None
    assert h.record("a", "src2", "f2", "keyword").version == 2
    with pytest.raises(KeyError, match="no history for LF 'b'"):
        h.versions("b")


NOTEBOOK_CELL = '''
import re
import numpy as np
from snorkel.labeling import labeling_function
from workbench.labeling import ABSTAIN

HAM, SPAM = 0, 1
PROMO_WORDS = ["free", "win", "gift"]
LINK = re.compile(r"channel|www", re.IGNORECASE)

def words(text):
    return set(re.findall(r"\\w+", text.lower()))

def promo(x):
    """Promotional vocabulary."""
    return bool(words(x.text) & set(PROMO_WORDS))

@labeling_function(resources={"min_len": 3})
def link_or_short(x, min_len):
    if LINK.search(x.text):
        return SPAM
    return HAM if len(x.text.split()) < min_len else ABSTAIN

def song_talk(df):
    return np.where(df["text"].str.contains("song", regex=False), HAM, ABSTAIN)
'''


def test_save_lfs_writes_a_module_that_rebuilds_L(state, tmp_path):
    ns = cell(NOTEBOOK_CELL, {})
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    state.add(regex_lf("re_sub", r"subscri\w+", SPAM))
    state.add(predicate_lf("promo", ns["promo"], SPAM))
    state.add(ns["link_or_short"])
    state.add(vectorized_lf(name="song_talk", labels=[HAM])(ns["song_talk"]))
    state.add(YOUTUBE_LFS[-1])  # `shouting`, importable from workbench.data.youtube_lfs
    state.add(keyword_lf("kw_off", ["voice"], HAM), enabled=False)
    snap = state.refresh()
    path = state.save_lfs(tmp_path / "labeling_functions.py")
    assert [p.name for p in tmp_path.iterdir()] == ["labeling_functions.py"]  # no temp files left
    code = path.read_text()
    assert "@" not in code.split('"""')[2]  # decorators were rewritten, not copied
    assert "from workbench.data.youtube_lfs import shouting" in code
    spec = importlib.util.spec_from_file_location("labeling_functions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [lf.name for lf in module.LFS] == snap.names
    assert [lf.name for lf in module.ALL_LFS] == state.names
    for split, expected in (("train", snap.L_train), ("dev", snap.L_dev)):
        got = apply_lfs(state.splits[split].df, module.LFS, cardinality=state.cardinality, cache=False)
        np.testing.assert_array_equal(got, expected)


def test_save_lfs_refuses_what_it_cannot_write_and_keeps_the_old_file(state, tmp_path):
    path = tmp_path / "lfs.py"
    path.write_text("OLD = 1\n")
    ns = cell("TABLE = None\ndef uses_table(x):\n    return TABLE is not None and x.text in TABLE\n", {})
    ns["TABLE"] = pd.DataFrame({"a": [1]})
    state.add(predicate_lf("uses_table", ns["uses_table"], SPAM))
    state.refresh()
    with pytest.raises(LFSaveError, match="LF 'uses_table': it reads the global 'TABLE', a DataFrame"):
        state.save_lfs(path)
    assert path.read_text() == "OLD = 1\n"
    state.remove("uses_table")
    state.add(predicate_lf("lam", lambda x: True, SPAM))
    state.refresh()
    with pytest.raises(LFSaveError, match="'lam'.*lambda"):
        state.save_lfs(path)
    state.remove("lam")

    def outer(word):
        def inner(x):
            return word in x.text
        return inner

    state.add(predicate_lf("closure", outer("my"), SPAM))
    state.refresh()
    with pytest.raises(LFSaveError, match="'closure'.*closures"):
        state.save_lfs(path)
    assert path.read_text() == "OLD = 1\n"


def test_lfs_to_code_names_and_collisions():
    code = lfs_to_code([keyword_lf("my lf", ["a"], 1), keyword_lf("2nd", ["b"], 0)])
    assert "my_lf = keyword_lf(" in code and "lf_2nd = keyword_lf(" in code
    assert code.rstrip().endswith("ALL_LFS = [my_lf, lf_2nd]")
    namespace = {}
    exec(code, namespace)
    assert [lf.name for lf in namespace["LFS"]] == ["my lf", "2nd"]


def test_browse_kinds(state):
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    state.add(keyword_lf("kw_song", ["song"], HAM))
    state.refresh()
    total, page = state.browse("fires", lf="kw_my", page_size=2)
    assert total == 3 and page["example_id"].tolist() == ["t0", "t2"]
    total, page = state.browse("fires", lf="kw_my", page=1, page_size=2)
    assert page["example_id"].tolist() == ["t5"]
    total, page = state.browse("wrong", lf="kw_my")
    assert total == 1 and page["example_id"].tolist() == ["d5"] and page["gold"].tolist() == [HAM]
    total, page = state.browse("conflict", lf="kw_my", other="kw_song")
    assert page["example_id"].tolist() == ["t5"]
    total, page = state.browse("overlap", lf="kw_song", other="kw_my")
    assert page["example_id"].tolist() == ["t5"]
    total, page = state.browse("abstain")
    assert page["example_id"].tolist() == ["t4", "t6", "t7"]
    assert {"proba_ham", "proba_spam", "vote_kw_my", "vote_kw_song"} <= set(page.columns)
    with pytest.raises(KeyError, match="not switched on"):
        state.browse("fires", lf="nope")


def test_snorkel_label_model_synchronous_and_cached_by_lf_set(youtube):
    state = StudioState(youtube, label_model="snorkel", background=False, cache=LabelCache(), label_model_settings={"n_epochs": 100})
    for lf in YOUTUBE_LFS:
        state.add(lf)
    snap = state.refresh()
    assert snap.label_model_status == "up to date" and snap.label_model_current
    assert snap.shown is snap.label_model
    assert snap.label_model.proba_train.shape == (len(youtube.train), 2) and snap.label_model.name == "snorkel"
    assert snap.label_model.settings["n_epochs"] == 100 and snap.label_model.settings["random_state"] == 123
    assert snap.summary["Learned Acc."].notna().all()
    assert 0.5 < snap.label_model.dev_scores["accuracy"] <= 1
    assert snap.majority.hist_counts.sum() == (snap.L_train != -1).any(axis=1).sum()
    first = snap.label_model
    state.disable("kw_my")
    assert state.refresh().label_model is not first
    state.enable("kw_my")
    assert state.refresh().label_model is first  # the earlier fit for this LF set, not a refit


def test_snorkel_needs_three_lfs(state):
    state.close()
    s = StudioState(make_dataset(), label_model="snorkel", background=False, cache=LabelCache())
    s.add(keyword_lf("kw_my", ["my"], SPAM))
    snap = s.refresh()
    assert "needs at least 3 LFs" in snap.label_model_status and snap.shown is snap.majority


def test_a_label_model_registered_in_label_models_is_offered_and_used(youtube):
    model_class = accuracy_weighted_vote()
    with pytest.raises(ValueError, match="unknown label model 'accuracy_weighted'"):
        StudioState(youtube, label_model="accuracy_weighted", cache=LabelCache())
    LABEL_MODELS.register("accuracy_weighted", model_class)
    try:
        with pytest.raises(ValueError, match=r"did you mean 'accuracy_weighted'\? \(known: .*, accuracy_weighted\)"):
            StudioState(youtube, label_model="accuracy_weighed", cache=LabelCache())
        state = StudioState(youtube, label_model="accuracy_weighted", label_model_settings={"smoothing": 0.0},
                            background=False, cache=LabelCache())
        assert state.fits_label_model
        state.add(YOUTUBE_LFS[0])
        snap = state.refresh()
        assert snap.label_model_status == "needs at least 2 LFs switched on (has 1)"  # the model's own min_lfs
        for lf in YOUTUBE_LFS[1:]:
            state.add(lf)
        snap = state.refresh()
        assert snap.label_model_status == "up to date" and snap.shown is snap.label_model
        out = snap.label_model
        expected = model_class(smoothing=0.0).fit(snap.L_train)
        assert out.name == "accuracy_weighted" and out.settings["smoothing"] == 0.0
        np.testing.assert_allclose(out.proba_train, expected.predict_proba(snap.L_train))
        np.testing.assert_allclose(snap.summary.loc[snap.names, "Learned Acc."], expected.lf_accuracies_)
        state.close()
    finally:
        LABEL_MODELS.unregister("accuracy_weighted")


def test_majority_only_studio_fits_nothing_in_the_background(state):
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    snap = state.refresh()
    assert not state.fits_label_model and snap.label_model_status == "majority vote only"
    assert snap.shown is snap.majority and snap.majority.proba_train.shape == (len(TRAIN), 2)


def test_background_label_model_lands_and_notifies(youtube):
    state = StudioState(youtube, label_model="snorkel", debounce=0.05, cache=LabelCache(), label_model_settings={"n_epochs": 50})
    landed = []
    state.on_label_model(landed.append)
    for lf in YOUTUBE_LFS:
        state.add(lf)
    snap = state.refresh()
    assert snap.label_model_status == "refitting" and not snap.label_model_current and snap.shown is snap.majority
    assert state.wait_label_model(300)
    assert landed == [snap] and snap.label_model_status == "up to date" and snap.shown is snap.label_model
    state.close()


def test_refitter_debounces_to_the_newest_request():
    fitted, done = [], threading.Event()
    refitter = LabelModelRefitter(lambda x: fitted.append(x) or x, lambda key, result: done.set(), debounce=0.3)
    for i in range(5):
        refitter.submit(i, i)
    assert refitter.wait(30)
    assert fitted == [4] and done.is_set()
    refitter.submit("boom", None)
    refitter.close()


def test_refitter_delivers_exceptions():
    results = []

    def fail(_):
        raise RuntimeError("diverged")

    refitter = LabelModelRefitter(fail, lambda key, result: results.append((key, result)), debounce=0)
    refitter.submit("k", 1)
    assert refitter.wait(30)
    assert results[0][0] == "k" and isinstance(results[0][1], RuntimeError)
    refitter.close()


def test_dataset_checks():
    with pytest.raises(TypeError, match="expects a workbench Dataset"):
        StudioState(pd.DataFrame({"text": ["a"]}))
    with pytest.raises(KeyError, match="no split 'dev'"):
        StudioState(Dataset("t", {"train": pd.DataFrame({"text": ["a"]})}, ["a", "b"]))
    with pytest.raises(ValueError, match=r"label_model: unknown label model 'nope' \(known: majority, snorkel, hyper, dawid_skene, weighted, auto\)"):
        StudioState(make_dataset(), label_model="nope")
    with pytest.raises(TypeError, match="n_epoch"):  # a wrong setting fails when the studio opens
        StudioState(make_dataset(), label_model="snorkel", label_model_settings={"n_epoch": 5})


def test_works_without_dev_labels():
    ds = make_dataset()
    ds.splits["dev"] = ds.splits["dev"].drop(columns=["label"])
    state = StudioState(ds, label_model="majority", cache=LabelCache())
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    snap = state.refresh()
    assert snap.Y_dev is None and pd.isna(snap.summary.loc["kw_my", "Dev Acc."])
    assert snap.summary.loc["kw_my", "Dev Coverage"] == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="needs dev gold labels"):
        state.browse("wrong", lf="kw_my")


def test_regex_lf_error_message_survives(state):
    with pytest.raises(ValueError, match=re.escape("invalid regular expression")):
        regex_lf("bad", "(", SPAM)


def test_many_classes_keep_their_labels():
    """Past 127 classes the studio's label matrix widens as the applier's does (int16), never wraps."""
    classes = [f"c{i}" for i in range(200)]
    df = pd.DataFrame({"example_id": ["a", "b", "c"], "text": ["topic one", "topic two", "none"]})
    state = StudioState(Dataset("t", {"train": df}, classes), dev_split=None, label_model="majority", cache=LabelCache())
    state.add(keyword_lf("kw_one", ["one"], 150))
    state.add(keyword_lf("kw_two", ["two"], 199))
    snap = state.refresh()
    assert snap.L_train.dtype == np.int16
    assert snap.L_train.tolist() == [[150, ABSTAIN], [ABSTAIN, 199], [ABSTAIN, ABSTAIN]]


def test_the_default_label_model_is_live_up_to_date_after_every_edit(youtube):
    from workbench.data.youtube_lfs import YOUTUBE_LFS

    state = StudioState(youtube, cache=LabelCache())  # background on: a live model is still fitted in refresh
    assert state.label_model == "dawid_skene"
    for lf in YOUTUBE_LFS[:4]:
        state.add(lf)
        snap = state.refresh()
        assert snap.label_model_current and snap.label_model_status == "up to date"
        assert not state.label_model_busy and snap.timings["label_model"] >= 0
    assert snap.summary.loc[[lf.name for lf in YOUTUBE_LFS[:4]], "Learned Acc."].notna().all()
    auto = state.compare_label_models()
    assert set(auto.comparison_.index) >= {"dawid_skene", "hyper", "majority"} and auto.reason_.startswith("auto chose")
    state.close()


@pytest.mark.parametrize("build", [lambda: keyword_lf("kw_bad", ["song"], 2), lambda: regex_lf("re_bad", r"song", 5)])
def test_builder_lf_with_an_out_of_range_label_is_a_failing_lf(state, build):
    """Issue 16.6: the text fast path skipped the label check, so refresh() and every later add() crashed."""
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    bad = build()
    state.add(bad)
    snap = state.refresh()
    assert snap.names == ["kw_my"]
    assert snap.summary.loc[bad.name, "Status"] == "error"
    message = [e for e in snap.errors if e.lf == bad.name and e.split == "train"][0].message()
    assert "out of range" in message and "row 1" in message  # "love this song", the first row it fires on
    state.add(keyword_lf("kw_free", ["free"], SPAM))
    assert state.refresh().names == ["kw_my", "kw_free"]
    state.remove(bad.name)
    assert state.refresh().errors == []


# -- the no-code form, its preview, result lines, sessions ----------------------------------


def test_form_lf_builds_keyword_and_regex_lfs_and_says_what_is_missing():
    lf = form_lf("keywords", " free,  win ,", SPAM)
    assert lf.name == "kw_free_win" and lf.params["keywords"] == ["free", "win"] and lf.params["label"] == SPAM
    assert form_lf("regex", r"check\s+out", SPAM, name="re_co").name == "re_co"
    with pytest.raises(ValueError, match="at least one keyword"):
        form_lf("keywords", " , ", SPAM)
    with pytest.raises(ValueError, match="type a regular expression"):
        form_lf("regex", "  ", SPAM)
    with pytest.raises(ValueError, match="invalid regular expression"):
        form_lf("regex", "(", SPAM)
    assert lf_from_spec(json.loads(json.dumps(lf_spec(lf)))).params == lf.params
    with pytest.raises(ValueError, match="only keyword_lf or regex_lf|not a keyword_lf"):
        lf_spec(predicate_lf("p", lambda x: True, SPAM))


def test_preview_counts_hits_dev_precision_and_overlap_without_adding(state):
    state.add(keyword_lf("kw_song", ["song"], HAM))
    state.add(keyword_lf("kw_channel", ["channel"], SPAM))
    state.refresh()
    preview = state.preview(form_lf("keywords", "my", SPAM))
    # pool "my": rows 0, 2, 5; row 0 and 2 also "channel" (agree), row 5 also "song" (conflict)
    assert (preview.pool_hits, preview.n_pool, preview.overlap_rows, preview.conflict_rows, preview.new_rows) == (3, 8, 3, 1, 0)
    assert preview.by_lf.to_dict("records") == [{"LF": "kw_channel", "overlap": 2, "conflict": 0},
                                                 {"LF": "kw_song", "overlap": 1, "conflict": 1}]
    assert preview.examples["example_id"].tolist() == ["t0", "t2", "t5"]
    # dev "my": "visit my channel" (spam: right), "my song" (ham: wrong)
    assert (preview.dev_correct, preview.dev_votes, preview.dev_precision) == (1, 2, 0.5)
    low, high = preview.dev_interval
    assert 0 < low < 0.5 < high < 1
    assert "dev precision 50% (1/2, 95% CI" in preview.describe()
    assert state.names == ["kw_song", "kw_channel"] and "kw_my" not in state.snapshot.summary.index
    # a candidate with an active LF's name is compared with the others only (it would replace it)
    again = state.preview(keyword_lf("kw_song", ["song", "voice"], HAM))
    assert again.pool_hits == 4 and again.by_lf.empty


def test_preview_of_a_failing_candidate_is_an_error_not_an_exception(state):
    preview = state.preview(keyword_lf("kw_bad", ["song"], 7))
    assert preview.pool_hits == 0 and "label 7 out of range" in preview.error and "kw_bad" in preview.describe()


def test_summary_has_wilson_intervals_around_dev_accuracy(state):
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    state.add(keyword_lf("kw_nothing", ["zebra"], SPAM))
    s = state.refresh().summary
    low, high = s.loc["kw_my", ["Dev Acc. Low", "Dev Acc. High"]]
    assert low < s.loc["kw_my", "Dev Acc."] < high
    narrow = StudioState(make_dataset(dev=DEV * 10, dev_y=DEV_Y * 10), label_model="majority", cache=LabelCache())
    narrow.add(keyword_lf("kw_my", ["my"], SPAM))
    n = narrow.refresh().summary
    assert n.loc["kw_my", "Dev Acc."] == s.loc["kw_my", "Dev Acc."]  # same accuracy, ten times the votes
    assert n.loc["kw_my", "Dev Acc. High"] - n.loc["kw_my", "Dev Acc. Low"] < (high - low) / 2
    assert s.loc["kw_nothing", ["Dev Acc.", "Dev Acc. Low", "Dev Acc. High"]].isna().all()


def test_result_line_gives_version_coverage_dev_accuracy_and_change_or_failure(state):
    state.add(keyword_lf("kw_my", ["my"], SPAM))
    state.refresh()
    line = state.result_line("kw_my")
    assert line.startswith("kw_my v1 (new): coverage 37.5%") and "dev accuracy 50% (1/2, 95% CI" in line
    state.add(keyword_lf("kw_my", ["my", "free"], SPAM))
    state.refresh()
    line = state.result_line("kw_my", since=1)
    # "free money here", "win a free gift card" join; dev "free iphone" is spam
    assert line.startswith("kw_my v2 (was v1): coverage 62.5% (+25.0 pts), dev accuracy 67% (2/3")
    assert line.endswith("(+16.7 pts)")
    assert "(unchanged)" in state.result_line("kw_my", since=2)
    state.add(keyword_lf("kw_my", ["my"], 9))
    state.refresh()
    assert re.match(r"kw_my v3 \(was v2\): FAILED: LF 'kw_my' failed on .*label 9 out of range", state.result_line("kw_my", since=2))
    state.remove("kw_my")
    assert state.result_line("kw_my") == "kw_my: removed"


def test_session_round_trip_keeps_lfs_order_switches_origin_and_versions(state):
    ns = cell("TOPICS = ['song', 'voice']\n\ndef praise(x):\n    return any(t in x.text for t in TOPICS)\n", {})
    state.add(keyword_lf("kw_my", ["my"], SPAM), origin="form")
    state.add(keyword_lf("kw_my", ["my", "free"], SPAM), origin="form")
    state.add(predicate_lf("praise", ns["praise"], HAM))
    state.add(regex_lf("re_win", r"\bwin\b", SPAM))
    state.disable("re_win")
    state.add(predicate_lf("closure", (lambda word: (lambda x: word in x.text))("x"), SPAM))
    before = state.refresh()
    session = json.loads(json.dumps(state.to_session()))  # what a store keeps
    assert [r["origin"] for r in session["lfs"]] == ["form", "code", "code", "code"]
    assert "spec" in session["lfs"][0] and "def praise" in session["lfs"][1]["source"]
    assert "unsaved" in session["lfs"][3]

    restored = StudioState(make_dataset(), label_model="majority", cache=LabelCache())
    problems = restored.restore_session(session)
    assert len(problems) == 1 and "'closure'" in problems[0] and "run its cell again" in problems[0]
    after = restored.refresh()
    assert restored.names == ["kw_my", "praise", "re_win"]
    assert restored.origin("kw_my") == "form" and restored.origin("praise") == "code"
    assert not restored.enabled("re_win")
    np.testing.assert_array_equal(after.L_train, before.L_train[:, :2])
    assert [v.version for v in restored.history.versions("kw_my")] == [1, 2]  # no new version on restore
    assert restored.history.versions("kw_my")[0].stats == state.history.versions("kw_my")[0].stats
    assert restored.history.latest("praise").source == state.history.latest("praise").source
    assert "(unchanged)" in restored.result_line("kw_my", since=2)
    # restored code LFs can be saved again, and edited code keeps counting versions
    restored.to_code()
    restored.add(predicate_lf("praise", cell("def praise(x):\n    return 'song' in x.text\n", {})["praise"], HAM))
    restored.refresh()
    assert restored.history.latest("praise").version == 2
    with pytest.raises(ValueError, match="not a studio session"):
        restored.restore_session({"lfs": []})


def test_free_name_and_form_origin_needs_a_builder(state):
    state.add(keyword_lf("kw", ["a"], SPAM))
    state.add(keyword_lf("kw_2", ["b"], SPAM))
    assert state.free_name("kw") == "kw_3" and state.free_name("new") == "new"
    with pytest.raises(ValueError, match="only keyword_lf/regex_lf"):
        state.add(predicate_lf("p", lambda x: True, SPAM), origin="form")
