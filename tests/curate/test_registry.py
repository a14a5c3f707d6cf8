"""The filter-step registry: one object per step, parameters checked with the key named, steps run under their names."""
import importlib

import numpy as np
import pandas as pd
import pytest

from workbench.curate import (
    CONFIDENCE_STEP,
    FILTER_STEPS,
    NEAR_DUPLICATES_STEP,
    PROTECTED_DUPLICATES_STEP,
    UNCOVERED_STEP,
    FilterContext,
    FilterStepSpec,
    ParamError,
    StepParam,
    confidence_filter,
    curate,
    exclude,
    filter_step,
    normalize_text,
    run_filter_steps,
)
from workbench.evaluate import check_leakage


@pytest.fixture
def context():
    pool = pd.DataFrame({
        "example_id": [10, 11, 12, 13, 14],
        "text": ["buy cheap pills now", "nice song", "Buy cheap pills now, today", "hello", "watch my video"],
    })
    proba = np.array([[0.1, 0.9], [0.8, 0.2], [0.05, 0.95], [0.5, 0.5], [0.35, 0.65]])
    L = np.array([[1, -1], [0, 0], [1, 1], [-1, -1], [1, -1]])
    protected = {"test": pd.DataFrame({"example_id": ["t1"], "text": ["WATCH my  video"]})}
    return FilterContext(pool, proba, L=L, protected=protected, class_names=["ham", "spam"])


def test_the_built_in_steps_are_registered_under_their_names():
    assert FILTER_STEPS.names()[:4] == (UNCOVERED_STEP, CONFIDENCE_STEP, PROTECTED_DUPLICATES_STEP, NEAR_DUPLICATES_STEP)
    assert (UNCOVERED_STEP, CONFIDENCE_STEP) == ("uncovered", "confidence")
    assert all(FILTER_STEPS[name].name == name for name in FILTER_STEPS)
    assert [p.name for p in FILTER_STEPS[CONFIDENCE_STEP].params] == ["threshold", "class_thresholds"]
    assert FILTER_STEPS[UNCOVERED_STEP].description == "Rows no LF voted on: nothing to learn from."


def test_each_built_in_step_runs_under_its_name(context):
    funnel = run_filter_steps(context, [("uncovered", {}), ("confidence", {"threshold": 0.6}),
                                        ("protected_duplicates", {}), ("near_duplicates", {"threshold": 0.5})])
    assert [s.name for s in funnel.steps] == ["uncovered", "confidence", "protected_duplicates", "near_duplicates"]
    assert [s.removed_ids for s in funnel.steps][0] == {"no LF voted": ["13"]}
    assert funnel.steps[2].removed_counts == {"same text as a protected (dev/valid/test/canary) row": 1}
    assert funnel.steps[3].removed_counts == {"near_duplicate": 1}
    assert funnel.kept_ids.tolist() == ["11", "12"]  # of the two pill rows the more confident one stays


def test_protected_duplicates_finds_what_the_leakage_check_calls_exact(context):
    rows = np.arange(5)
    step = FILTER_STEPS[PROTECTED_DUPLICATES_STEP](context, rows)
    exact = check_leakage(context.pool, context.protected, near=False)
    assert step.removed_ids[step.reasons[~step.kept][0]].tolist() == [str(i) for i in exact.leaked_ids] == ["14"]


def test_each_text_is_normalised_once_for_all_steps(context, monkeypatch):
    registry = importlib.import_module("workbench.curate._registry")  # workbench.curate is also a function
    calls = []
    monkeypatch.setattr(registry, "normalize_text", lambda texts: calls.append(len(texts)) or normalize_text(texts))
    funnel = run_filter_steps(context, [("uncovered", {}), ("protected_duplicates", {}), ("near_duplicates", {"threshold": 0.5})])
    assert calls == [4]  # the four covered rows, once, though two steps compared them
    assert funnel.kept_ids.tolist() == ["11", "12"]
    assert context.normalized(np.array([4, 0])).tolist() == ["watch rny video", "buy cheap pills now"]  # TR39 skeletons
    assert calls == [4]
    every_row_backwards = np.arange(len(context.pool))[::-1]  # with the one row no step compared
    assert context.normalized(every_row_backwards).tolist() == normalize_text(context.pool["text"]).tolist()[::-1]
    assert calls == [4, 1]


def test_each_step_hands_back_the_memory_its_temporaries_took(context, monkeypatch):
    registry = importlib.import_module("workbench.curate._registry")
    released = []
    monkeypatch.setattr(registry, "release_unused_memory", lambda: released.append(True))
    run_filter_steps(context, [("uncovered", {}), ("confidence", {"threshold": 0.6}), ("near_duplicates", {"threshold": 0.5})])
    assert len(released) == 3


def test_the_confidence_name_is_the_one_curate_and_the_explorer_use(context):
    assert confidence_filter(context.proba, 0.5).name == CONFIDENCE_STEP
    assert CONFIDENCE_STEP in [s.name for s in curate(context.pool, context.proba, threshold=0.6).funnel.steps]


@pytest.mark.parametrize("param, value, message", [
    (StepParam("threshold", float, low=0, high=1), 1.5, "threshold: 1.5 is outside 0..1"),
    (StepParam("threshold", float, low=0, high=1, low_open=True), 0, "threshold: 0 is outside 0..1 (0 excluded)"),
    (StepParam("threshold", float), "high", "threshold: must be int or float, got str 'high'"),
    (StepParam("threshold", float), True, "threshold: must be int or float, got bool True"),
    (StepParam("k", int, low=1), 0, "k: must be >= 1, got 0"),
    (StepParam("k", int, low=0, low_open=True), 0, "k: must be > 0, got 0"),
    (StepParam("k", int, high=5), 6, "k: must be <= 5, got 6"),
    (StepParam("k", int), 2.5, "k: must be int, got float 2.5"),
    (StepParam("method", str, choices=("downsample", "weights")), "wieghts",
     "method: unknown value 'wieghts' (did you mean 'weights'?); choose one of ['downsample', 'weights']"),
])
def test_a_bad_parameter_is_named(param, value, message):
    with pytest.raises(ParamError) as info:
        param.check(value)
    assert str(info.value) == message and info.value.param == param.name


def test_parameters_are_converted_defaulted_and_checked_by_name():
    spec = FilterStepSpec("demo", run=lambda context, rows, **p: None,
                          params=(StepParam("threshold", float, low=0, high=1), StepParam("k", int, default=3)))
    assert spec.check_params({"threshold": 1}) == {"threshold": 1.0, "k": 3}
    assert isinstance(spec.check_params({"threshold": 1})["threshold"], float)
    with pytest.raises(ParamError, match=r"^threshold: missing: the demo step needs a threshold$"):
        spec.check_params({})
    with pytest.raises(ParamError, match=r"^threshhold: unknown key \(did you mean 'threshold'\?\); known keys are \['k', 'threshold'\]$"):
        spec.check_params({"threshhold": 0.5})


def test_one_decorated_function_registers_a_step_that_runs_in_the_funnel(context):
    @filter_step("min_words", StepParam("words", int, low=1, default=2))
    def min_words(context, rows, *, words):
        ids = context.ids[rows]
        short = context.texts.iloc[rows].str.split().str.len().to_numpy() < words
        return exclude(ids, ids[short], f"fewer than {words} words", name="min_words")

    try:
        assert isinstance(min_words, FilterStepSpec) and FILTER_STEPS["min_words"] is min_words
        funnel = run_filter_steps(context, [("uncovered", {}), ("min_words", {})])
        assert funnel.steps[1].name == "min_words" and funnel.steps[1].params == {"reason": "fewer than 2 words", "n_listed": 0}
        assert funnel.kept_ids.tolist() == ["10", "11", "12", "14"]  # the default (2 words) keeps every covered row
        assert run_filter_steps(context, [("min_words", {"words": 4})]).kept_ids.tolist() == ["10", "12"]
        with pytest.raises(ValueError, match="a filter step named 'min_words' is already registered"):
            filter_step("min_words")(min_words.run)
    finally:
        FILTER_STEPS.unregister("min_words")
    with pytest.raises(KeyError, match="unknown filter step 'min_words'"):
        run_filter_steps(context, [("min_words", {})])


def test_a_step_must_return_a_filter_step_under_its_own_name(context):
    renamed = FilterStepSpec("mine", run=lambda c, rows: exclude(c.ids[rows], [], "x", name="theirs"))
    with pytest.raises(ValueError, match="filter step 'mine' returned a FilterStep named 'theirs'"):
        renamed(context, np.arange(5))
    wrong = FilterStepSpec("mine", run=lambda c, rows: c.ids[rows])
    with pytest.raises(TypeError, match="filter step 'mine' returned ndarray, not a FilterStep"):
        wrong(context, np.arange(5))


def test_the_context_checks_its_inputs_and_names_what_a_step_lacks():
    pool = pd.DataFrame({"example_id": [1, 2], "text": ["a", "b"]})
    with pytest.raises(ValueError, match=r"the pool has no 'text' column"):
        FilterContext(pool.drop(columns="text"), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="proba"):
        FilterContext(pool, np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="L has 1 rows but the pool has 2"):
        FilterContext(pool, np.full((2, 2), 0.5), L=np.array([[1]]))
    bare = FilterContext(pool, np.full((2, 2), 0.5))
    assert bare.ids.tolist() == ["1", "2"]
    with pytest.raises(ValueError, match="the uncovered filter step needs the LF votes"):
        run_filter_steps(bare, [("uncovered", {})])
    with pytest.raises(ValueError, match="the protected_duplicates filter step needs the protected splits"):
        run_filter_steps(bare, [("protected_duplicates", {})])
