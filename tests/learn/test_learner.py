import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from workbench.curate import confidence_filter
from workbench.learn import (
    EndModelTrainer,
    expand_soft_labels,
    fit_soft,
    fit_weighted,
    one_hot,
    student_teacher_loop,
    tfidf_vectorizer,
    train_end_model,
)
from tests._helpers import notebook_bars
from workbench.plots.learning import student_teacher_rounds, training_curve


def linear_task(rng, n, d=5):
    X = rng.normal(size=(n, d))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


def noisy_teacher(rng, y, flip):
    """Probabilities whose arg-max is the gold label except on a random ``flip`` share of rows."""
    wrong = rng.random(len(y)) < flip
    labels = np.where(wrong, 1 - y, y)
    return one_hot(labels, 2) * 0.6 + 0.2


def test_foundation_functions_still_work():
    X_rep, y, w = expand_soft_labels(np.eye(2), np.array([[0.9, 0.1], [0.0, 1.0]]))
    assert y.tolist() == [0, 1, 1] and w.round(2).tolist() == [0.9, 0.1, 1.0]
    texts = ["free money", "nice song", "win cash", "love it"] * 3
    model = train_end_model(texts, one_hot([1, 0, 1, 0] * 3, 2))
    assert model.predict(["free cash"]).tolist() == [1]
    assert tfidf_vectorizer().fit(texts).transform(["free money"]).shape == (1, 12)  # 8 words and 4 word pairs
    assert tfidf_vectorizer(ngram_range=(1, 1)).fit(texts).transform(texts).shape == (12, 8)  # overrides apply


def test_expand_soft_labels_takes_positions_not_pandas_labels():
    import pandas as pd

    texts = pd.Series(["a", "b"], index=[10, 20])
    X_rep, y, _ = expand_soft_labels(texts, [[1.0, 0.0], [0.0, 1.0]])
    assert list(X_rep) == ["a", "b"] and y.tolist() == [0, 1]


def test_fit_weighted_routes_to_the_pipeline_and_fit_soft_matches_targets():
    X = np.array([[-1.0], [1.0]])
    pipe = make_pipeline(LogisticRegression(C=1e6))
    fit_weighted(pipe, np.r_[X, X], [0, 1, 1, 0], [0.9, 0.9, 0.1, 0.1])
    assert pipe.predict_proba(X)[:, 0].round(2).tolist() == [0.9, 0.1]
    model = fit_soft(LogisticRegression(C=1e6), X, [[0.7, 0.3], [0.3, 0.7]])
    assert model.predict_proba(X)[:, 0].round(2).tolist() == [0.7, 0.3]


@pytest.fixture(scope="module")
def task():
    rng = np.random.default_rng(0)
    X_pool, y_pool = linear_task(rng, 800)
    X_valid, y_valid = linear_task(rng, 200)
    X_test, y_test = linear_task(rng, 1000)
    return X_pool, y_pool, X_valid, y_valid, X_test, y_test


def test_early_stopping_keeps_the_best_dev_epoch_and_checkpoints_every_epoch(task, tmp_path):
    X_pool, y_pool, X_valid, y_valid, _, _ = task
    P = noisy_teacher(np.random.default_rng(1), y_pool, flip=0.25)
    trainer = EndModelTrainer(
        "passthrough", eta0=1.0, max_epochs=40, patience=3, checkpoint_dir=tmp_path, progress_bar=False
    ).fit(X_pool, P, X_valid=X_valid, y_valid=y_valid)
    h = trainer.history_
    best = trainer.best_epoch_
    assert h.loc[h["best"], "epoch"].item() == best
    assert h["valid_accuracy"].max() == h.loc[best - 1, "valid_accuracy"]
    ties = h[(h["valid_accuracy"] == h["valid_accuracy"].max()) & (h["epoch"] <= best)]
    assert h.loc[best - 1, "valid_log_loss"] == ties["valid_log_loss"].min()  # log loss breaks accuracy ties
    # Stopped `patience` epochs after the best (or at the epoch limit).
    assert len(h) == min(best + 3, 40)
    assert len(trainer.checkpoints_) == len(h)
    files = sorted(tmp_path.glob("epoch_*.pkl"))
    assert [f.name for f in files] == [f"epoch_{e:03d}.pkl" for e in h["epoch"]]
    assert not list(tmp_path.glob(".*tmp"))
    # Each checkpoint is that epoch's model: it reproduces the history's dev score.
    for epoch in (1, len(h)):
        with open(tmp_path / f"epoch_{epoch:03d}.pkl", "rb") as fh:
            restored = pickle.load(fh)
        assert restored.score(X_valid, y_valid) == pytest.approx(h.loc[epoch - 1, "valid_accuracy"])
    np.testing.assert_allclose(trainer.predict_proba(X_valid), trainer.checkpoints_[best - 1].predict_proba(X_valid))
    assert trainer.score(X_valid, y_valid) == pytest.approx(h["valid_accuracy"].max())


def test_supervised_weight_lets_few_clean_rows_correct_systematic_synthetic_errors(task):
    X_pool, y_pool, X_valid, y_valid, X_test, y_test = task
    # Synthetic labels that are wrong wherever x1 > 0.8 (a systematic blind spot).
    blind = X_pool[:, 1] > 0.8
    P = one_hot(np.where(blind, 1 - y_pool, y_pool), 2)
    rng = np.random.default_rng(2)
    X_sup, y_sup = linear_task(rng, 40)
    X_sup[:, 1] = np.abs(X_sup[:, 1]) + 0.8  # the clean rows sit in the blind spot
    y_sup = (X_sup[:, 0] + 0.5 * X_sup[:, 1] > 0).astype(int)
    region = X_test[:, 1] > 0.8

    def accuracy_in_region(weight):
        t = EndModelTrainer("passthrough", supervised_weight=weight, max_epochs=15, progress_bar=False)
        t.fit(X_pool, P, X_sup, y_sup, X_valid=X_valid, y_valid=y_valid)
        return (t.predict(X_test[region]) == y_test[region]).mean()

    heavy, ignored = accuracy_in_region(20.0), accuracy_in_region(0.0)
    assert heavy > 0.95 and heavy > ignored + 0.1


def test_soft_labels_reach_the_end_model(task):
    X_pool, y_pool, X_valid, y_valid, _, _ = task
    hard = EndModelTrainer("passthrough", alpha=1e-5, max_epochs=10, patience=10, progress_bar=False)
    soft = EndModelTrainer("passthrough", alpha=1e-5, max_epochs=10, patience=10, progress_bar=False)
    hard.fit(X_pool, one_hot(y_pool, 2), X_valid=X_valid, y_valid=y_valid)
    soft.fit(X_pool, one_hot(y_pool, 2) * 0.6 + 0.2, X_valid=X_valid, y_valid=y_valid)
    assert soft.predict_proba(X_valid).max(axis=1).mean() < hard.predict_proba(X_valid).max(axis=1).mean() - 0.1
    # targets="hard" trains on the arg-max of the same soft labels: the hard model again.
    argmax = EndModelTrainer("passthrough", targets="hard", alpha=1e-5, max_epochs=10, patience=10, progress_bar=False)
    argmax.fit(X_pool, one_hot(y_pool, 2) * 0.6 + 0.2, X_valid=X_valid, y_valid=y_valid)
    np.testing.assert_allclose(argmax.predict_proba(X_valid), hard.predict_proba(X_valid))
    # Label smoothing of hard targets tempers the confidence they teach.
    smoothed = EndModelTrainer("passthrough", targets="hard", label_smoothing=0.2, alpha=1e-5, max_epochs=10,
                               patience=10, progress_bar=False).fit(X_pool, one_hot(y_pool, 2), X_valid=X_valid, y_valid=y_valid)
    assert smoothed.predict_proba(X_valid).max(axis=1).mean() < hard.predict_proba(X_valid).max(axis=1).mean() - 0.05
    with pytest.raises(ValueError, match="targets must be 'soft' or 'hard'"):
        EndModelTrainer("passthrough", targets="argmax").fit(X_pool, one_hot(y_pool, 2), X_valid=X_valid, y_valid=y_valid)


def test_trainer_on_texts_mixes_a_supervised_set():
    texts = ["free money now", "win a free prize", "check my channel", "love this song", "great video", "nice voice"]
    P = one_hot([1, 1, 1, 0, 0, 0], 2)
    trainer = EndModelTrainer(max_epochs=5, progress_bar=False).fit(
        texts * 4, np.tile(P, (4, 1)), ["subscribe to my channel"], [1], X_valid=texts, y_valid=[1, 1, 1, 0, 0, 0]
    )
    assert "subscribe" in trainer.model_[0].vocabulary_  # features fitted on the supervised rows too
    assert trainer.predict(["free prize money", "love the voice"]).tolist() == [1, 0]


def test_student_teacher_loop_replaces_a_noisy_teacher_and_stops_at_a_perfect_one(task):
    X_pool, y_pool, X_valid, y_valid, X_test, y_test = task
    rng = np.random.default_rng(3)
    teacher = {"pool": noisy_teacher(rng, y_pool, 0.3), "valid": noisy_teacher(rng, y_valid, 0.3),
               "test": noisy_teacher(rng, y_test, 0.3)}
    trainer = EndModelTrainer("passthrough", max_epochs=10, progress_bar=False)
    result = student_teacher_loop(X_pool, teacher, X_valid, y_valid, X_test, y_test, trainer=trainer,
                                  max_rounds=2, progress_bar=False)
    h = result.history
    # A linear student averages out random label noise: it beats its 70%-accurate teacher ...
    assert h.loc[0, "teacher_valid_accuracy"] == pytest.approx(0.7, abs=0.07)
    assert h.loc[0, "student_beats_teacher"] and h.loc[0, "student_test_accuracy"] > 0.9
    # ... and becomes the teacher of round 2.
    assert h.loc[1, "teacher"] == "student 1"
    assert h.loc[1, "teacher_valid_accuracy"] == pytest.approx(h.loc[0, "student_valid_accuracy"])
    assert len(result.students) == 2

    perfect = {"pool": one_hot(y_pool, 2), "valid": one_hot(y_valid, 2), "test": one_hot(y_test, 2)}
    stop = student_teacher_loop(X_pool, perfect, X_valid, y_valid, X_test, y_test, trainer=trainer, max_rounds=3,
                                progress_bar=False)
    assert len(stop.history) == 1 and not stop.history.loc[0, "student_beats_teacher"]
    np.testing.assert_array_equal(stop.final_proba["test"], perfect["test"])


def test_curation_and_input_errors(task):
    X_pool, y_pool, X_valid, y_valid, X_test, y_test = task
    P = np.c_[np.full(len(y_pool), 0.5), np.full(len(y_pool), 0.5)]
    P[:100] = one_hot(y_pool[:100], 2)
    teacher = {"pool": P, "valid": one_hot(y_valid, 2), "test": one_hot(y_test, 2)}
    result = student_teacher_loop(X_pool, teacher, X_valid, y_valid, X_test, y_test,
                                  curate=lambda proba: confidence_filter(proba, 0.6).kept,
                                  trainer=EndModelTrainer("passthrough", max_epochs=3, progress_bar=False),
                                  max_rounds=1, progress_bar=False)
    assert result.history.loc[0, "n_curated"] == 100
    with pytest.raises(ValueError, match="teacher_proba needs a 'test' array"):
        student_teacher_loop(X_pool, {"pool": P, "valid": P[:200]}, X_valid, y_valid, X_test, y_test)
    with pytest.raises(ValueError, match="non-empty boolean mask"):
        student_teacher_loop(X_pool, teacher, X_valid, y_valid, X_test, y_test, curate=lambda P: np.zeros(len(P), bool),
                             progress_bar=False, max_rounds=1)
    with pytest.raises(ValueError, match="y_supervised has 2 labels for 3 rows"):
        EndModelTrainer("passthrough").fit(X_pool, P, X_valid[:3], [0, 1], X_valid=X_valid, y_valid=y_valid)
    with pytest.raises(ValueError, match="proba_synthetic has 5 rows; expected 800"):
        EndModelTrainer("passthrough").fit(X_pool, P[:5], X_valid=X_valid, y_valid=y_valid)
    with pytest.raises(TypeError, match="takes no sample_weight"):
        from sklearn.neighbors import KNeighborsClassifier

        fit_weighted(KNeighborsClassifier(), X_valid, y_valid, np.ones(len(y_valid)))


def test_loop_and_training_figures(task):
    X_pool, y_pool, X_valid, y_valid, X_test, y_test = task
    rng = np.random.default_rng(4)
    teacher = {"pool": noisy_teacher(rng, y_pool, 0.3), "valid": noisy_teacher(rng, y_valid, 0.3),
               "test": noisy_teacher(rng, y_test, 0.3)}
    result = student_teacher_loop(X_pool, teacher, X_valid, y_valid, X_test, y_test, max_rounds=2, progress_bar=False,
                                  trainer=EndModelTrainer("passthrough", max_epochs=6, progress_bar=False))
    fig = student_teacher_rounds(result.history)
    stars = next(t for t in fig.data if t.name == "student wins → relabels")
    assert len(stars.x) == result.history["student_beats_teacher"].sum() >= 1
    teacher_test = next(t for t in fig.data if t.name == "teacher · test")
    np.testing.assert_allclose(teacher_test.y, result.history["teacher_test_accuracy"])
    student = result.students[0]
    curve = training_curve(student.history_)
    assert curve.layout.shapes[0].x0 == student.best_epoch_
    assert [t.name for t in curve.data][:2] == ["train loss (soft labels)", "valid log loss"]


def test_progress_bars_end_full_and_say_where_training_stopped_early(task, monkeypatch):
    import workbench.learn._learner as learner

    X_pool, y_pool, X_valid, y_valid, X_test, y_test = task
    bars = notebook_bars(monkeypatch, learner)
    P = noisy_teacher(np.random.default_rng(1), y_pool, flip=0.25)
    epochs = len(EndModelTrainer("passthrough", eta0=1.0, max_epochs=40, patience=3, progress_bar=True)
                 .fit(X_pool, P, X_valid=X_valid, y_valid=y_valid).history_)
    assert epochs < 40
    perfect = {"pool": one_hot(y_pool, 2), "valid": one_hot(y_valid, 2), "test": one_hot(y_test, 2)}
    student_teacher_loop(X_pool, perfect, X_valid, y_valid, X_test, y_test, max_rounds=3, progress_bar=True,
                         trainer=EndModelTrainer("passthrough", max_epochs=3, progress_bar=False))

    final = [(b.desc, b.container.children[1].value, b.container.children[1].max, b.container.children[1].bar_style)
             for b in bars]
    assert final == [  # full and green, not red and part-way (what tqdm shows for a bar closed early)
        (f"end model: stopped early at epoch {epochs}", epochs, epochs, "success"),
        ("student-teacher: stopped early at round 1 (the student did not beat its teacher)", 1, 1, "success"),
    ]


def test_features_are_sparse_float32_and_hard_labels_are_not_copied():
    X = tfidf_vectorizer().fit_transform(["free money now", "nice song"])
    assert X.dtype == np.float32
    X_rep, y, w = expand_soft_labels(X, one_hot([1, 0], 2), sample_weight=[2.0, 1.0])
    assert X_rep is X and y.tolist() == [1, 0] and w.tolist() == [2.0, 1.0]
    X_rep, y, _ = expand_soft_labels(X, [[0.5, 0.5], [0.0, 1.0]])  # soft: rows repeated per class
    assert X_rep.shape[0] == 3 and y.tolist() == [0, 1, 1]


@pytest.mark.parametrize("soft", [False, True])
def test_large_tables_train_chunk_by_chunk_as_well_as_all_at_once(soft, monkeypatch):
    import workbench.learn._learner as learner
    from workbench.data import load_youtube_spam

    ds = load_youtube_spam()
    train, test = ds["train"], ds["test"]
    rng = np.random.default_rng(0)
    proba = noisy_teacher(rng, ds.gold("train"), flip=0.1) if soft else one_hot(ds.gold("train"), 2)
    at_once = train_end_model(train["text"], proba)
    monkeypatch.setattr(learner, "CHUNK_ROWS", 300)  # several chunks of the 1,586 rows
    chunks = []
    real_expand = learner.expand_soft_labels
    monkeypatch.setattr(learner, "expand_soft_labels", lambda X, *a: chunks.append(X.shape[0]) or real_expand(X, *a))
    in_chunks = train_end_model(train["text"], proba, max_rows_in_memory=1000)
    assert isinstance(at_once[-1], LogisticRegression) and type(in_chunks[-1]).__name__ == "SGDClassifier"
    assert max(chunks) == 300 and sum(chunks) == 5 * len(train)  # five epochs over every row, 300 at a time
    accuracy = {name: (model.predict(test["text"]) == ds.gold("test")).mean()
                for name, model in (("at_once", at_once), ("in_chunks", in_chunks))}
    assert accuracy["at_once"] > 0.85 and accuracy["in_chunks"] >= accuracy["at_once"] - 0.02, accuracy  # no worse


def test_large_corpora_hash_their_features_as_well_as_a_vocabulary(monkeypatch):
    import workbench.learn._learner as learner
    from workbench.data import load_youtube_spam
    from workbench.learn import hashed_tfidf_vectorizer

    ds = load_youtube_spam()
    train, test = ds["train"], ds["test"]
    with_vocabulary = train_end_model(train["text"], one_hot(ds.gold("train"), 2))
    monkeypatch.setattr(learner, "VOCABULARY_MAX_ROWS", 1000)  # the 1,586 rows count as a large corpus
    hashed = train_end_model(train["text"], one_hot(ds.gold("train"), 2))
    assert "vocabulary_" in vars(with_vocabulary["features"]) and [n for n, _ in hashed["features"].steps] == [
        "counts", "seen", "tfidf"]
    accuracy = {name: (model.predict(test["text"]) == ds.gold("test")).mean()
                for name, model in (("vocabulary", with_vocabulary), ("hashed", hashed))}
    assert accuracy["vocabulary"] > 0.85 and accuracy["hashed"] >= accuracy["vocabulary"] - 0.02, accuracy
    # only the columns seen in training are features: a text of unseen words has none
    features = hashed_tfidf_vectorizer().fit(["buy cheap pills", "nice song"])
    X = features.transform(["buy cheap pills", "zzz qqq", "nice song"])
    assert X.shape == (3, 5 + 3) and X.dtype == np.float32 and X[1].nnz == 0
    assert np.allclose(X.multiply(X).sum(axis=1).A1, [1, 0, 1])  # l2-normalised rows, as tfidf_vectorizer's


def test_seen_columns_keep_the_columns_of_at_least_min_rows_rows():
    import scipy.sparse as sp

    from workbench.learn import hashed_tfidf_vectorizer
    from workbench.learn._learner import SeenColumns

    counts = sp.csr_matrix(np.array([[1, 2, 0, 0], [3, 0, 1, 0], [0, 0, 0, 0]], dtype=np.float32))
    assert SeenColumns().fit(counts).columns_.tolist() == [0, 1, 2]
    assert SeenColumns(min_rows=2).fit(counts).columns_.tolist() == [0]  # column 0 alone is in two rows
    assert SeenColumns(min_rows=2).fit_transform(counts).toarray().tolist() == [[1], [3], [0]]
    # a column listed twice in one row is in one row, not two
    twice = sp.csr_matrix((np.ones(3, dtype=np.float32), [1, 1, 0], [0, 2, 3]), shape=(2, 2))
    assert not twice.has_canonical_format and SeenColumns(min_rows=2).fit(twice).columns_.tolist() == [0, 1]
    assert SeenColumns(min_rows=3).fit(counts).columns_.tolist() == [0, 1, 2]  # none in three rows: every seen one
    with pytest.raises(ValueError, match="min_rows must be an int >= 1, got 0"):
        SeenColumns(min_rows=0).fit(counts)
    # the hashed features keep words of two texts or more
    features = hashed_tfidf_vectorizer().fit(["buy cheap pills", "buy now", "nice song"])
    assert features["seen"].min_rows == 2 and len(features["seen"].columns_) == 1
    assert features.transform(["buy it", "nice song"]).getnnz(axis=1).tolist() == [1, 0]


def test_hashed_counts_from_worker_processes_are_the_hashers_own(monkeypatch):
    import workbench._internal.parallel as parallel
    import workbench.learn._learner as learner
    from sklearn.feature_extraction.text import HashingVectorizer

    from workbench.data import load_youtube_spam

    if not parallel.CAN_FORK:
        pytest.skip("worker processes need fork()")
    texts = load_youtube_spam()["train"]["text"]
    hasher = HashingVectorizer(n_features=2**12, ngram_range=(1, 2), alternate_sign=False, norm=None)
    monkeypatch.setattr(learner, "ROWWISE_CHUNK_ROWS", 100)  # many shares, so their order matters
    alone = hasher.transform(texts)
    for n_jobs in (1, 2):
        shared = learner.RowWise(hasher, n_jobs=n_jobs).fit(texts).transform(texts)
        assert shared.shape == alone.shape and (shared != alone).nnz == 0
