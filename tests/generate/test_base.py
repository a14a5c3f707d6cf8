"""The Generator interface: every generator yields (n, k) probabilities and a source from one vocabulary."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from workbench.export import build_export_frame
from workbench.generate import (
    GENERATOR_INPUTS,
    LABEL_SOURCES,
    Distiller,
    Generator,
    MajorityVote,
    PseudoLabeler,
    SnorkelLabelModel,
    check_label_source,
)
from workbench.labeling import ABSTAIN

N, K = 120, 3


@pytest.fixture(scope="module")
def data():
    """Three clusters; LF votes that mostly follow them; a few seed labels; a teacher's probabilities."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(K), N // K)
    X = rng.normal(size=(N, 2)) + 4 * np.c_[np.cos(2 * np.pi * y / K), np.sin(2 * np.pi * y / K)]
    L = np.where(rng.random((N, 4)) < 0.8, np.where(rng.random((N, 4)) < 0.85, y[:, None], (y[:, None] + 1) % K), ABSTAIN)
    seeds = np.full(N, ABSTAIN)
    seeds[::10] = y[::10]
    teacher = np.full((N, K), 0.1)
    teacher[np.arange(N), y] = 0.8
    pool = pd.DataFrame({"example_id": [f"e{i}" for i in range(N)], "text": [f"row {i}" for i in range(N)]})
    return {"X": X, "L": L, "y": y, "seeds": seeds, "teacher": teacher, "pool": pool}


def generators():
    """Each generator with how it is fitted (argument names of ``data``)."""
    return [
        (MajorityVote(cardinality=K), ("L",)),
        (SnorkelLabelModel(cardinality=K, n_epochs=50), ("L",)),
        (PseudoLabeler(LogisticRegression(), max_rounds=2), ("X", "seeds")),
        (Distiller(LogisticRegression(), temperature=2.0), ("X", "teacher")),
    ]


@pytest.mark.parametrize(("generator", "fit_with"), generators(), ids=lambda g: type(g).__name__)
def test_every_generator_yields_probabilities_and_a_known_source(data, generator, fit_with):
    assert isinstance(generator, Generator)
    assert generator.source in LABEL_SOURCES and generator.reads in GENERATOR_INPUTS
    with pytest.raises(NotFittedError):
        generator.predict_proba(data[generator.reads])
    params = generator.get_params()
    assert generator.fit(*(data[name] for name in fit_with)) is generator
    assert generator.get_params().keys() == params.keys()
    assert not [a for a in vars(clone(generator)) if a.endswith("_")]
    # The caller needs nothing but the interface: what to feed, what comes out, what to call it.
    proba = generator.predict_proba(data[generator.reads])
    assert proba.shape == (N, K) and np.allclose(proba.sum(axis=1), 1) and (proba >= 0).all()
    assert generator.classes_.tolist() == list(range(K))
    assert (proba.argmax(axis=1) == data["y"]).mean() > 0.8
    out = build_export_frame(data["pool"], proba, class_names=["a", "b", "c"], source=generator.source)
    assert set(out["label_source"]) == {generator.source}


def test_generator_sources_match_what_they_do():
    assert [g.source for g, _ in generators()] == ["label_model", "label_model", "pseudo_label", "distillation"]
    assert [g.reads for g, _ in generators()] == ["L", "L", "X", "X"]


def test_a_generator_must_take_its_source_and_input_from_the_vocabularies():
    with pytest.raises(TypeError, match=r"Teacher.source = 'teacher' is not one of \('label_model'"):
        type("Teacher", (Generator,), {"source": "teacher", "reads": "X"})
    with pytest.raises(TypeError, match=r"Votes.reads = 'votes' is not one of \('L', 'X'\)"):
        type("Votes", (Generator,), {"source": "label_model", "reads": "votes"})
    incomplete = type("Incomplete", (Generator,), {"source": "seed", "reads": "X"})
    with pytest.raises(TypeError, match="abstract method predict_proba"):
        incomplete()


def test_check_label_source_names_the_bad_value_and_the_allowed_ones():
    assert check_label_source("seed", 3) == ["seed"] * 3
    assert check_label_source(["human_review", "label_model"], 2) == ["human_review", "label_model"]
    with pytest.raises(ValueError, match=r"label_source 'pseudo-labeling' is not one of \('label_model', 'pseudo_label', "
                                         r"'distillation', 'human_review', 'seed'\)"):
        check_label_source("pseudo-labeling", 1)
    with pytest.raises(ValueError, match=r"label_source None \(row 2\)"):
        check_label_source(["seed", "seed", None])
    with pytest.raises(ValueError, match="label_source has 2 values for 3 rows"):
        check_label_source(["seed", "seed"], 3)


def test_pseudo_labeler_with_cardinality_gives_a_column_per_class(data):
    seeds = np.where(data["y"] == 2, ABSTAIN, data["seeds"])  # no seed of class 2
    with_k = PseudoLabeler(LogisticRegression(), max_rounds=1, cardinality=K).fit(data["X"], seeds)
    proba = with_k.predict_proba(data["X"])
    assert with_k.classes_.tolist() == [0, 1, 2] and proba.shape == (N, K) and (proba[:, 2] == 0).all()
    without = PseudoLabeler(LogisticRegression(), max_rounds=1).fit(data["X"], seeds)
    assert without.classes_.tolist() == [0, 1] and without.predict_proba(data["X"]).shape == (N, 2)
    with pytest.raises(ValueError, match=r"y\[0\] = 3 is outside -1..2"):
        PseudoLabeler(cardinality=K).fit(data["X"], np.r_[3, data["seeds"][1:]])


def test_distiller_predict_before_fit_raises_not_fitted(data):
    with pytest.raises(NotFittedError):
        Distiller().predict(data["X"])
