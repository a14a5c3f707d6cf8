"""The pipeline's generator stages: review answers in, several generators, student rounds (workbench.pipeline._generators)."""

import sqlite3

import numpy as np
import pandas as pd
import pytest

from tests.pipeline.test_pipeline import elsewhere, tiny, tiny_config  # noqa: F401 (tiny is a fixture)
from workbench.curate import ROUTED_TO_REVIEW
from workbench.export import read_table
from workbench.generate import MajorityVote
from workbench.generate import LABEL_MODELS
from workbench.pipeline import ConfigError, parse_config, reproduce, run_pipeline
from workbench.review import ProjectStore, ReviewQueue


@pytest.fixture
def answered(tiny):
    """The tiny dataset with a review store: p3 (no LF voted) and p4 (below the threshold) answered,
    and p5, whose text copies a test row, answered too: that answer must never be used."""
    with ProjectStore(tiny / "review.sqlite", class_names=["ham", "spam"]) as store:
        store.record_decision("p3", 0, reviewer="ana")
        store.record_decision("p4", 1, reviewer="ana")
        store.record_decision("p4", 1, reviewer="bo")
        store.record_decision("p5", 0, reviewer="ana")
    return tiny


def review_config(folder, **changes):
    return tiny_config(folder, review={"store": "review.sqlite", "weight": 3.0}, **changes)


def test_review_answers_reach_the_export_as_human_rows_and_reproduce(answered):
    res = run_pipeline(review_config(answered), progress_bar=False, echo=None)
    out = read_table(res.export_path).set_index("example_id")
    # p3 was uncovered and p4 below the confidence threshold: human rows skip the filters
    assert out.loc[["p3", "p4"], "label_source"].tolist() == ["human_review", "human_review"]
    assert out.loc[["p3", "p4"], "label"].tolist() == [0, 1]
    assert out.loc[["p3", "p4"], "sample_weight"].tolist() == [3.0, 3.0]
    assert out.loc[["p1", "p6"], "label_source"].eq("label_model").all()
    # the label model is fitted with both answers and the two seed rows; an answer on a row a queue chose is no
    # sample, so p4's alone does not turn kw_ham round: p2, where kw_ham votes alone, keeps its label
    assert res.manifest["label_model"]["labeled_rows"] == 4
    assert out.loc["p2", "label_source"] == "label_model" and out.loc["p2", "label"] == 0
    assert "p5" not in out.index  # a copy of a test row: never trained on, answered or not
    review = res.manifest["review"]
    assert review["labels"] == 2 and review["decisions"] == 3 and review["reviewers"] == ["ana", "bo"]
    assert review["left_out_as_protected_copies"] == ["p5"]
    assert [d[1:] for d in review["used"]] == [["p3", "ana", 0], ["p4", "ana", 1], ["p4", "bo", 1]]
    assert res.manifest["config"]["review"]["through"] == 4
    assert "review" in res.manifest["steps"]

    # answers given after the run do not change the round it read
    with ProjectStore(answered / "review.sqlite") as store:
        store.record_decision("p1", 0, reviewer="ana")
        store.undo_last(reviewer="ana")
        store.undo_last(reviewer="ana")  # p5's answer withdrawn after the run: it was not used anyway
    assert reproduce(res.manifest_path).ok

    # changing one answer the export used: reproduce names the review step and the answer
    with sqlite3.connect(answered / "review.sqlite") as conn:
        conn.execute("UPDATE decisions SET label = 1 WHERE example_id = 'p3'")
    report = reproduce(res.manifest_path)
    assert not report.ok and report.first_difference.step == "review"
    assert "example 'p3': ana's answer 0 -> 1" in report.first_difference.details[0]
    assert "review" in report.summary()


def test_label_models_get_the_answers_as_labeled_rows(answered):
    seen = {}

    class Recording(MajorityVote):
        def uses_labels(self):
            return True

        def fit(self, L, y=None):
            seen["y"] = None if y is None else np.asarray(y).tolist()
            return super().fit(L, y)

    LABEL_MODELS.register("recording", Recording)
    try:
        run_pipeline(review_config(answered, label_model={"kind": "recording"}), progress_bar=False, echo=None)
    finally:
        LABEL_MODELS.unregister("recording")
    # one entry per pool row (p1..p6), ABSTAIN where unanswered, then the seed split's labels
    assert seen["y"][:6] == [-1, -1, 0, 1, -1, -1]
    assert len(seen["y"]) > 6 and -1 not in seen["y"][6:]


@pytest.mark.parametrize("decision, message", [
    (("zz", 1), r"review\.store: .*not in the pool.*\['zz'\]"),
    (("p1", 3), r"review\.store: .*outside the classes 0\.\.1: decision 1 by 'ana' labels example 'p1' as 3"),
])
def test_bad_review_answers_are_named(tiny, decision, message):
    with ProjectStore(tiny / "review.sqlite") as store:  # a store without class names cannot check labels itself
        store.record_decision(decision[0], decision[1], reviewer="ana")
    with pytest.raises(ConfigError, match=message):
        run_pipeline(review_config(tiny), progress_bar=False, echo=None)


def test_two_generators_flag_disagreement_and_the_filter_step_routes_it(tiny):
    use = ["label_model", {"kind": "pseudo_label", "threshold": 0.5, "max_rounds": 2}]
    first = run_pipeline(tiny_config(tiny, generators={"use": use}), progress_bar=False, echo=None)
    scores = read_table(first.export_path).set_index("example_id")["disagreement_score"]
    assert scores.between(0, 1).all() and scores.nunique() > 1
    assert set(first.export["label_source"]) == {"label_model"}  # primary: the first generator's labels
    assert first.manifest["label_model"]["generators"]["kinds"] == {"label_model": "label_model",
                                                                     "pseudo_label": "pseudo_label"}
    cut = float(scores.max())  # flag exactly the row(s) the generators disagree on most
    flagged = set(scores.index[scores >= cut])

    generators = {"use": use, "disagreement": cut}
    flagging = run_pipeline(tiny_config(tiny, generators=generators, output=elsewhere("out2")), progress_bar=False, echo=None)
    out = read_table(flagging.export_path)
    assert set(out.loc[out["generators_disagree"], "example_id"]) == flagged
    assert flagging.manifest["label_model"]["generators"]["flagged"] >= len(flagged)

    steps = ["uncovered", {"step": "confidence", "threshold": 0.7}, "protected_duplicates",
             {"step": "disagreement", "threshold": cut, "route": "review"}]
    routed = run_pipeline(tiny_config(tiny, generators=generators, output=elsewhere("out3"), filter=steps),
                          progress_bar=False, echo=None)
    step = routed.manifest["funnel"]["steps"][-1]
    assert step["step"] == "disagreement" and set(step["removed"][ROUTED_TO_REVIEW]["ids"]) == flagged
    assert not set(routed.export["example_id"]) & flagged


def test_rows_routed_to_review_are_queued_in_the_review_store(tiny):
    """With review: configured, the routed rows become review requests: the next session shows them first."""
    use = ["label_model", {"kind": "pseudo_label", "threshold": 0.5, "max_rounds": 2}]
    first = run_pipeline(tiny_config(tiny, generators={"use": use}), progress_bar=False, echo=None)
    scores = read_table(first.export_path).set_index("example_id")["disagreement_score"]
    cut = float(scores.max())
    flagged = set(scores.index[scores >= cut])
    steps = ["uncovered", "protected_duplicates", {"step": "disagreement", "threshold": cut, "route": "review"}]
    with ProjectStore(tiny / "review.sqlite", class_names=["ham", "spam"]):
        pass
    config = review_config(tiny, generators={"use": use, "disagreement": cut}, filter=steps, output=elsewhere("out2"))
    routed = run_pipeline(config, progress_bar=False, echo=None)
    with ProjectStore(tiny / "review.sqlite") as store:
        requests = store.review_requests()
        assert set(requests["example_id"]) == flagged and requests["reason"].eq(ROUTED_TO_REVIEW).all()
        assert requests["score"].ge(cut).all() and not set(routed.export["example_id"]) & flagged
        raw = pd.read_csv(tiny / "pool.csv")
        pool = pd.DataFrame({"example_id": raw["id"], "text": raw["body"]})
        queue = ReviewQueue(pool, np.full((len(pool), 2), 0.5), store=store, reviewer="ana", protected=None,
                            size=len(flagged))
        assert {queue.current.example_id} <= flagged and queue.n_requested == len(flagged)
        assert set(queue.upcoming(len(flagged))["example_id"]) == flagged
    assert reproduce(routed.manifest_path).ok  # queuing them again changes nothing
    with ProjectStore(tiny / "review.sqlite") as store:
        assert len(store.review_requests()) == len(flagged)


def test_the_disagreement_step_needs_two_generators(tiny):
    with pytest.raises(ValueError, match="needs more than one generator"):
        run_pipeline(tiny_config(tiny, filter=["uncovered", "disagreement"]), progress_bar=False, echo=None)


def test_a_blend_averages_the_generators(tiny):
    use = ["label_model", {"kind": "pseudo_label", "threshold": 0.5, "max_rounds": 1, "weight": 3.0}]
    primary = run_pipeline(tiny_config(tiny, generators={"use": use}), progress_bar=False, echo=None)
    blend = run_pipeline(tiny_config(tiny, generators={"use": use, "combine": "blend"}, output=elsewhere("out2")),
                         progress_bar=False, echo=None)
    assert primary.manifest["steps"]["generators"]["sha256"] != blend.manifest["steps"]["generators"]["sha256"]
    assert primary.manifest["label_model"]["generators"]["weights"] == {"label_model": 1.0, "pseudo_label": 3.0}


def test_a_distillation_teacher_from_a_factory(tiny):
    use = ["label_model", {"kind": "distillation", "teacher": "workbench.generate:make_student", "temperature": 2.0}]
    res = run_pipeline(tiny_config(tiny, generators={"use": use}), progress_bar=False, echo=None)
    assert res.manifest["label_model"]["generators"]["kinds"]["distillation"] == "distillation"
    assert "disagreement_score" in res.export.columns


def test_rounds_record_each_rounds_metrics(tiny):
    valid = tiny / "valid.csv"
    valid.write_text("id,body,y\nv1,check my page,1\nv2,what a tune,0\nv3,subscribe please,1\nv4,lovely voice,0\n")
    raw = tiny_config(tiny).to_dict()
    raw["data"]["valid"] = {"path": str(valid), "text_column": "body", "label_column": "y", "id_column": "id"}
    raw["rounds"] = {"max": 2, "min_gain": 0.0, "on": "valid"}
    res = run_pipeline(parse_config(raw, base_dir=tiny), progress_bar=False, echo=None)
    rounds = res.manifest["rounds"]
    assert 1 <= len(rounds) <= 2 and rounds[0]["round"] == 0
    assert {"teacher_valid_accuracy", "end_model_valid_accuracy", "end_model_test_accuracy", "relabels"} <= set(rounds[0])
    # a round relabels exactly when the student beat its teacher, and the loop stops at the first that does not
    for entry in rounds:
        assert entry["relabels"] == (entry["end_model_valid_accuracy"] > entry["teacher_valid_accuracy"])
    assert all(e["relabels"] for e in rounds[:-1])
    assert "rounds" in res.manifest["steps"]


@pytest.mark.parametrize("generators, key, message", [
    ({"use": ["label_model", {"kind": "pseudolabel"}]}, "generators.use[1].kind", "did you mean 'pseudo_label'"),
    ({"use": [{"kind": "pseudo_label"}]}, "generators.use", "lists label_model 0 times"),
    ({"use": ["label_model", {"kind": "distillation", "teacher": "missing.joblib"}]}, "generators.use[1].teacher",
     "no such teacher file"),
    ({"use": ["label_model"], "combine": "mean"}, "generators.combine", "choose one of"),
])
def test_bad_generator_configs_name_the_key(tiny, generators, key, message):
    with pytest.raises(ConfigError, match=message) as err:
        tiny_config(tiny, generators=generators)
    assert err.value.key == key


def test_rounds_need_a_clean_split_to_compare_on(tiny):
    with pytest.raises(ConfigError, match="no valid split") as err:
        tiny_config(tiny, rounds=2)
    assert err.value.key == "rounds.on"
