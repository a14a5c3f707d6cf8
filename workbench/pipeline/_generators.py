"""The pipeline's generator stages: review answers in, every configured generator, their combination,
and the student rounds.

- :func:`review_stage` reads the ``review:`` store as it stands (pinning the round it read, so a
  re-run reads the same decisions) and turns the answers into labeled pool rows.
- :func:`generators_stage` fits the label model with those rows (``fit(L, y)``), runs the other
  generators of ``generators.use`` (a pseudo-labeler seeded from the ``seed`` split and the
  answers; distillation from a teacher), combines them (``primary`` or ``blend``) and scores
  their disagreement per row.
- :func:`route_to_review` puts the rows the ``disagreement`` filter step routed to review
  (``route: review``) in the ``review:`` store's queue, so the next review session shows them.
- :func:`student_round` scores the end model against its teacher on clean validation data
  (``rounds:``); when it wins, its probabilities relabel the pool for the next round.

Nothing protected is trained on here either: the seed rows and pool rows a generator learns
from pass the one leakage check first (:func:`workbench.evaluate.check_leakage`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import joblib
import numpy as np
import pandas as pd

from workbench._internal.validation import ABSTAIN, check_proba
from workbench.curate._disagreement import ROUTED_TO_REVIEW
from workbench.curate._scores import disagreement_score
from workbench.data._dataset import ID_COLUMN, PROTECTED_SPLITS, TEXT_COLUMN, Dataset
from workbench.evaluate._leakage import check_leakage
from workbench.export import _lineage as lineage
from workbench.generate._distill import Distiller, make_student
from workbench.generate._pseudolabel import PseudoLabeler
from workbench.labeling._engines import apply_lfs
from workbench.pipeline._config import ConfigError, GeneratorSpec, PipelineConfig
from workbench.pipeline._stages import (
    PROBA_DECIMALS,
    Generated,
    PipelineError,
    StageResult,
    end_model_stage,
    filter_stage,
    label_model_stage,
    leakage_stage,
)
from workbench.review._harvest import harvest
from workbench.review._store import ProjectStore

# --------------------------------------------------------------------------- review


@dataclass(frozen=True)
class ReviewAnswers:
    """The review answers a run uses: per pool row the human label (``ABSTAIN`` where none) and its weight."""

    y: np.ndarray
    weight: float

    @property
    def rows(self) -> np.ndarray:
        return np.flatnonzero(self.y != ABSTAIN)


def _last_decision(store: ProjectStore) -> int:
    ids = store.decisions(include_undone=True)["id"]
    return int(ids.max()) if len(ids) else 0


def review_stage(config: PipelineConfig, ds: Dataset) -> tuple[StageResult[ReviewAnswers | None], PipelineConfig]:
    """Harvest the ``review:`` store into labeled pool rows; also returns the config with the round pinned.

    The round is pinned by the last decision id and the time of reading (``review.through``,
    ``review.as_of``), so :func:`workbench.pipeline.reproduce` re-reads exactly these decisions
    however the store grows later.
    """
    cfg = config.review
    if cfg is None:
        return StageResult(None, {"review": {"decisions": 0, "store": None}}), config
    with ProjectStore(cfg.store) as store:
        if store.class_names is not None and list(store.class_names) != list(ds.class_names):
            raise ConfigError("review.store", f"{cfg.store} holds answers for classes {store.class_names}, "
                              f"this run's classes are {list(ds.class_names)}")
        pinned = replace(cfg, through=cfg.through if cfg.through is not None else _last_decision(store),
                         as_of=cfg.as_of or datetime.now(UTC).isoformat(timespec="microseconds"))
        pool = ds["train"]
        try:
            seeds = harvest(store, protected=ds, pool=pool, reviewers=cfg.reviewers, conflicts=cfg.conflicts,
                            cardinality=ds.cardinality, through=pinned.through, as_of=pinned.as_of,
                            near=config.leakage.near_duplicates, threshold=config.leakage.threshold)
        except ValueError as exc:  # answers outside the classes, answered rows not in the pool, protected rows
            raise ConfigError("review.store", f"{cfg.store}: {exc}") from exc
        used = store.decisions(include_undone=True, ids=seeds.lineage["decision_ids"]) if len(seeds) else None
    y = np.full(len(pool), ABSTAIN, dtype=np.int64)
    position = pd.Series(np.arange(len(pool)), index=pool[ID_COLUMN].astype(str))
    y[position.loc[seeds.labels["example_id"].astype(str)].to_numpy()] = seeds.labels["label"].to_numpy()
    decisions = [] if used is None else [[int(i), str(e), str(r), int(v)] for i, e, r, v in
                                         used[["id", "example_id", "reviewer", "label"]].itertuples(index=False, name=None)]
    record = {
        "store": str(cfg.store),
        "decisions": len(decisions),
        "labels": len(seeds),
        "reviewers": sorted({d[2] for d in decisions}),
        "conflicts": cfg.conflicts,
        "weight": cfg.weight,
        "through": pinned.through,
        "as_of": pinned.as_of,
        "decisions_sha256": seeds.lineage["decisions_sha256"],
        "conflicted": seeds.conflicts["example_id"].astype(str).tolist(),
        "left_out_as_protected_copies": sorted(seeds.leaked["train_id"].unique().tolist()),
        # exactly the decisions used, kept with the export: [decision id, example id, reviewer, label]
        "used": decisions,
    }
    steps = {"review": lineage.step_record(seeds.lineage["decisions_sha256"], labels=len(seeds),
                                           reviewers=record["reviewers"])}
    return (StageResult(ReviewAnswers(y, cfg.weight), {"review": record}, steps),
            replace(config, review=pinned))


def route_to_review(config: PipelineConfig, ds: Dataset, funnel: dict, generated: Generated) -> int:
    """Queue the rows the filter funnel routed to review in the ``review:`` store, scored by how much
    the generators disagree; returns how many were not queued already (0 without ``review:``).

    The manifest is not touched: a re-run (``reproduce``) queues the same rows again, which changes nothing.
    """
    if config.review is None:
        return 0
    routed = [i for step in funnel["steps"] for i in step["removed"].get(ROUTED_TO_REVIEW, {}).get("ids", [])]
    if not routed:
        return 0
    position = pd.Series(np.arange(len(ds["train"])), index=ds["train"][ID_COLUMN].astype(str))
    scores = generated.disagreement[position.loc[[str(i) for i in routed]].to_numpy()]
    with ProjectStore(config.review.store) as store:
        return store.request_review(routed, reason=ROUTED_TO_REVIEW, scores=scores)


# --------------------------------------------------------------------------- generators


def _clean(df: pd.DataFrame, ds: Dataset, config: PipelineConfig) -> np.ndarray:
    """Mask of the rows of ``df`` that are no copy of a protected row (a generator may learn from these)."""
    protected = {s: ds[s] for s in PROTECTED_SPLITS if s in ds.splits}
    if not protected or df.empty:
        return np.ones(len(df), dtype=bool)
    report = check_leakage(df[[ID_COLUMN, TEXT_COLUMN]], protected, near=config.leakage.near_duplicates,
                           threshold=config.leakage.threshold, progress_bar=False)
    return ~report.leaked


@dataclass(frozen=True)
class _LabeledTexts:
    """What a text generator learns from: the clean seed rows and the answered pool rows, and the clean pool."""

    texts: list
    y: np.ndarray
    pool_clean: np.ndarray


def _labeled_texts(config: PipelineConfig, ds: Dataset, answers: ReviewAnswers | None) -> _LabeledTexts:
    pool = ds["train"]
    pool_clean = _clean(pool, ds, config)
    y_pool = np.full(len(pool), ABSTAIN, dtype=np.int64) if answers is None else answers.y.copy()
    y_pool[~pool_clean] = ABSTAIN  # harvest already left these out; kept explicit, as the texts below are
    texts, y = list(pool[TEXT_COLUMN][pool_clean]), y_pool[pool_clean]
    if "seed" in ds.splits:
        seed = ds["seed"]
        keep = _clean(seed, ds, config)
        texts += list(seed[TEXT_COLUMN][keep])
        y = np.concatenate([y, ds.gold("seed")[keep]])
    return _LabeledTexts(texts, y, pool_clean)


def _pseudo_label(spec: GeneratorSpec, key: str, labeled: _LabeledTexts, ds: Dataset, eval_split: str | None):
    model = PseudoLabeler(make_student(), threshold=spec.settings["threshold"], max_rounds=spec.settings["max_rounds"],
                          balance=spec.settings["balance"], cardinality=ds.cardinality, progress_bar=False)
    dev = {} if eval_split is None else {"X_dev": list(ds[eval_split][TEXT_COLUMN]), "y_dev": ds.gold(eval_split)}
    try:
        return model.fit(labeled.texts, labeled.y, **dev)
    except ValueError as exc:
        raise ConfigError(key, f"the pseudo-labeler cannot be seeded: {exc}") from exc


def _teacher(spec: GeneratorSpec, key: str, labeled: _LabeledTexts, lm_labels: np.ndarray, covered: np.ndarray, ds: Dataset):
    """The teacher: a fitted model file, or a factory's estimator fitted on the label model's labels."""
    reference = spec.settings["teacher"]
    if ":" in reference and not reference.lower().endswith((".joblib", ".pkl", ".pickle")):
        module, attribute = reference.split(":")
        try:
            factory = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(key, f"cannot load teacher {reference!r}: {exc}") from exc
        # learns from the clean covered pool rows' label-model labels (answers on top) and the clean seed rows
        pool = ds["train"]
        n_pool = int(labeled.pool_clean.sum())
        y_pool = np.where(labeled.y[:n_pool] != ABSTAIN, labeled.y[:n_pool], lm_labels[labeled.pool_clean])
        use = np.concatenate([covered[labeled.pool_clean] | (labeled.y[:n_pool] != ABSTAIN),
                              np.ones(len(labeled.y) - n_pool, dtype=bool)])
        y = np.concatenate([y_pool, labeled.y[n_pool:]])
        texts = [t for t, u in zip(list(pool[TEXT_COLUMN][labeled.pool_clean]) + labeled.texts[n_pool:], use) if u]
        return factory().fit(texts, y[use])
    try:
        return joblib.load(reference)
    except Exception as exc:  # whatever the unpickling raised: the file is not a usable model
        raise ConfigError(key, f"cannot load the teacher file {reference}: {type(exc).__name__}: {exc}") from exc


def _teacher_proba(teacher, key: str, texts: list, k: int) -> np.ndarray:
    try:
        proba = np.asarray(teacher.predict_proba(texts), dtype=float)
    except Exception as exc:  # a model that cannot score texts is the config's problem
        raise ConfigError(key, f"the teacher cannot score the pool's texts: {type(exc).__name__}: {exc}") from exc
    if proba.shape != (len(texts), k):
        raise ConfigError(key, f"the teacher gives probabilities of shape {proba.shape}; expected ({len(texts)}, {k})")
    return check_proba(proba, name="teacher probabilities")


@dataclass(frozen=True)
class GeneratorSet:
    """Every fitted generator and a way to score any split with the combination."""

    primary: Generated
    models: dict
    weights: dict
    combine: str
    lfs: list

    def proba(self, ds: Dataset, split: str, L: np.ndarray | None = None) -> np.ndarray:
        """The combined probabilities on a split (its LF votes are computed when not given)."""
        df = ds[split]
        probas = {}
        for name, model in self.models.items():
            if getattr(model, "reads", "X") == "L":
                L = apply_lfs(df, self.lfs, cardinality=ds.cardinality) if L is None else L
                probas[name] = model.predict_proba(L)
            else:
                probas[name] = model.predict_proba(list(df[TEXT_COLUMN]))
        return _combine(probas, self.weights, self.combine)


def _combine(probas: dict, weights: dict, method: str) -> np.ndarray:
    names = list(probas)
    if method == "primary" or len(names) == 1:
        return probas[names[0]]
    total = sum(weights[n] for n in names)
    return sum(weights[n] * probas[n] for n in names) / total


def generators_stage(config: PipelineConfig, L: dict, ds: Dataset, lfs: list,
                     answers: ReviewAnswers | None) -> tuple[StageResult[Generated], GeneratorSet]:
    """Fit every generator of ``generators.use`` on the pool, combine them and score their disagreement."""
    k = ds.cardinality
    y = None if answers is None else answers.y
    fitted = label_model_stage(config.label_model, L, ds.gold("dev"), lfs, k,
                               y_seed=ds.gold("seed") if "seed" in ds.splits else None, y_train=y)
    lm = fitted.artifact
    probas, models, weights, kinds = {}, {}, {}, {}
    labeled = None
    eval_split = "valid" if "valid" in ds.splits else None
    pool_texts = None  # the pool's texts as Python strings, only for a generator that reads them
    covered = (L["train"] != ABSTAIN).any(axis=1)
    for i, spec in enumerate(config.generators.use):
        key = f"generators.use[{i}]"
        name = spec.kind if spec.kind not in probas else f"{spec.kind}_{i}"
        if spec.kind == "label_model":
            model, proba = lm.model, lm.proba
        else:
            labeled = labeled or _labeled_texts(config, ds, answers)
            pool_texts = pool_texts or ds["train"][TEXT_COLUMN].tolist()
            if spec.kind == "pseudo_label":
                model = _pseudo_label(spec, key, labeled, ds, eval_split)
            else:
                teacher = _teacher(spec, key, labeled, lm.labels, covered, ds)
                clean_texts = [t for t, c in zip(pool_texts, labeled.pool_clean) if c]
                teacher_proba = _teacher_proba(teacher, key, clean_texts, k)
                model = Distiller(make_student(), temperature=spec.settings["temperature"]).fit(clean_texts, teacher_proba)
            proba = np.round(check_proba(model.predict_proba(pool_texts), len(pool_texts)), PROBA_DECIMALS)
        probas[name], models[name], weights[name], kinds[name] = proba, model, spec.weight, spec.kind
    method = config.generators.combine
    combined = np.round(_combine(probas, weights, method), PROBA_DECIMALS)
    first = next(iter(models))
    if method == "primary" and kinds[first] == "label_model":
        labels = lm.labels  # the label model's own tie rule
    else:
        labels = combined.argmax(axis=1)
    score = disagreement_score(probas, cardinality=k) if len(probas) > 1 else None
    source = models[first].source
    generated = Generated(lm.model, combined, labels, source, disagreement=score)
    record = dict(fitted.record)
    steps = dict(fitted.steps)
    if len(probas) > 1:
        flagged = score >= config.generators.disagreement
        record["label_model"] = {**record["label_model"], "generators": {
            "combine": method, "weights": weights, "kinds": kinds, "label_source": source,
            "disagreement_threshold": config.generators.disagreement, "flagged": int(flagged.sum()),
            "agreement_with_first": {n: float((p.argmax(axis=1) == probas[first].argmax(axis=1)).mean())
                                     for n, p in probas.items() if n != first}}}
        steps["generators"] = lineage.step_record(lineage.array_sha256(combined, labels, score), combine=method,
                                                  generators=list(probas), flagged=int(flagged.sum()))
    return StageResult(generated, record, steps), GeneratorSet(generated, models, weights, method, lfs)


# --------------------------------------------------------------------------- rounds


def accuracy_on(ds: Dataset, split: str, proba: np.ndarray) -> float:
    return float((np.asarray(proba).argmax(axis=1) == ds.gold(split)).mean())


def student_round(ds: Dataset, split: str, teacher_accuracy: float, end_model, min_gain: float,
                  round_: int) -> tuple[dict, Generated | None, float]:
    """Score the end model against its teacher on ``split``; if it wins by more than ``min_gain``,
    its probabilities relabel the pool (source ``pseudo_label``: the end model labels for itself)."""
    student = accuracy_on(ds, split, end_model.predict_proba(list(ds[split][TEXT_COLUMN])))
    test = float((end_model.predict(list(ds["test"][TEXT_COLUMN])) == ds.gold("test")).mean())
    entry = {"round": round_, f"teacher_{split}_accuracy": teacher_accuracy, f"end_model_{split}_accuracy": student,
             "end_model_test_accuracy": test, "relabels": bool(student > teacher_accuracy + min_gain)}
    if not entry["relabels"]:
        return entry, None, teacher_accuracy
    proba = np.round(check_proba(end_model.predict_proba(list(ds["train"][TEXT_COLUMN])), len(ds["train"])), PROBA_DECIMALS)
    if proba.shape[1] != ds.cardinality:
        raise PipelineError(f"round {round_}: the end model knows {proba.shape[1]} classes, the task has {ds.cardinality}")
    return entry, Generated(end_model, proba, proba.argmax(axis=1), "pseudo_label"), student


@dataclass(frozen=True)
class RoundsOutcome:
    """The last round's filter, leakage and end-model results (what evaluation and export use)."""

    curated: StageResult
    guarded: StageResult
    learned: StageResult


def rounds_stage(config: PipelineConfig, ds: Dataset, L_train: np.ndarray, generators: GeneratorSet,
                 lf_names: list[str], first: RoundsOutcome, answers: ReviewAnswers | None,
                 progress_bar: bool | None = None) -> tuple[StageResult[RoundsOutcome], RoundsOutcome]:
    """``rounds:``: while the end model beats its teacher on the clean ``rounds.on`` split, it relabels
    the pool and the filter, leakage and end-model stages run again on its labels (human answers
    stay on top). Each round's metrics go into the manifest's ``rounds`` section."""
    cfg = config.rounds
    if not cfg.max:
        return StageResult(first), first
    split = cfg.on
    if split not in ds.splits:
        raise ConfigError("rounds.on", f"there is no {split} split to compare student and teacher on")
    teacher = accuracy_on(ds, split, generators.proba(ds, split))
    outcome, history = first, []
    human = None if answers is None else answers.y
    weight = 1.0 if answers is None else answers.weight
    for round_ in range(cfg.max):
        entry, relabeled, teacher_next = student_round(ds, split, teacher, outcome.learned.artifact, cfg.min_gain, round_)
        history.append(entry)
        if relabeled is None:
            break
        teacher = teacher_next
        curated = filter_stage(config, ds, L_train, relabeled, lf_names, progress_bar=progress_bar, human=human,
                               human_weight=weight)
        guarded = leakage_stage(config, ds, curated.artifact.table, curated.artifact.normalized, progress_bar=progress_bar,
                                band_keys=curated.artifact.band_keys)
        outcome = RoundsOutcome(curated, guarded, end_model_stage(config, guarded.artifact, ds.class_names))
    steps = {"rounds": lineage.step_record(lineage.json_sha256([{k: (round(v, 6) if isinstance(v, float) else v)
                                                                 for k, v in e.items()} for e in history]),
                                           rounds=len(history), relabeled=sum(e["relabels"] for e in history))}
    return StageResult(outcome, {"rounds": history}, steps), outcome
