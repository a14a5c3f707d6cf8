"""The pipeline's stages, one function each, in the order :func:`workbench.pipeline.run_pipeline` calls them::

    load data -> apply LFs -> review -> label model -> filter -> leakage -> end model -> rounds -> evaluate -> export

(review, the generators besides the label model, and rounds live in :mod:`workbench.pipeline._generators`.)

Each stage takes what it needs and returns a :class:`StageResult`: its ``artifact`` (what later
stages use), its ``record`` (the manifest sections it fills in) and its ``steps`` (content-hash
records that :func:`workbench.pipeline.reproduce` compares; never timings).
"""

from __future__ import annotations

import dataclasses
import inspect
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from workbench._internal.columns import DISAGREEMENT_SCORE, GENERATORS_DISAGREE
from workbench._internal.paths import data_dir
from workbench._internal.stats import wilson_interval
from workbench._internal.text import BandKeys, normalize_text
from workbench._internal.validation import ABSTAIN
from workbench.curate._funnel import Funnel
from workbench.curate._registry import FilterContext, run_filter_steps
from workbench.data._dataset import (
    DATASET_FILE,
    ID_COLUMN,
    PROTECTED_SPLITS,
    TEXT_COLUMN,
    Dataset,
    load_dataset,
    load_youtube_spam,
)
from workbench.evaluate._canary import canary_gate
from workbench.evaluate._label_model_score import label_model_score
from workbench.evaluate._leakage import LeakageReport, check_leakage
from workbench.export import _lineage as lineage
from workbench.export._runs import (
    ExportRun,
    PartitionedExport,
    RunFiles,
    embed_manifest_sha256,
    export_file_sha256,
    write_export_file,
    write_run,
)
from workbench.export._table import PROBA_PREFIX, build_export_frame, export_format
from workbench.generate._labelmodel import LABEL_MODELS, fit_with_selected
from workbench.generate._select import AutoLabelModel, health_check
from workbench.labeling._engines import apply_lfs
from workbench.labeling._module import LFModule, LFModuleError, load_lf_module
from workbench.learn._learner import one_hot, train_end_model
from workbench.pipeline._config import (
    ConfigError,
    LabelModelConfig,
    LeakagePolicy,
    PipelineConfig,
)
from workbench.pipeline._report import render_report

SUFFIX = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}
STAGES = ("load data", "apply LFs", "review", "label model", "filter", "leakage", "end model", "rounds", "evaluate", "export")
#: Probabilities are rounded to this many decimals before anything uses them, so last-bit
#: floating-point noise (thread counts, BLAS builds) cannot change the export or its hash.
PROBA_DECIMALS = 10

T = TypeVar("T")


class PipelineError(RuntimeError):
    """The pipeline cannot go on; the message says which stage and why."""


class ClassShareWarning(UserWarning):
    """A class is far rarer in the export than in the dev set (see :func:`class_check`)."""


@dataclass(frozen=True)
class StageResult(Generic[T]):
    """What a stage produced: ``artifact`` for the stages after it, ``record`` (manifest sections)
    and ``steps`` (content-hash records by step name)."""

    artifact: T
    record: dict = field(default_factory=dict)
    steps: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- load data


@dataclass(frozen=True)
class Inputs:
    """The loaded data and LFs."""

    dataset: Dataset
    lfs: list
    lf_names: list[str]


def load_data(config: PipelineConfig) -> tuple[Dataset, list[dict]]:
    """The config's dataset and a record (path, SHA-256, size) of every file read."""
    if config.data.bundled == "youtube_spam":
        ds = load_youtube_spam()
        folder = data_dir() / "youtube_spam"
        records = [{"path": f"bundled:youtube_spam/{f.name}", "sha256": lineage.file_sha256(f), "bytes": f.stat().st_size}
                   for f in sorted(folder.glob("*.csv"))]
        return ds, records
    if config.data.dataset is not None:
        folder = config.data.dataset
        try:
            ds = load_dataset(folder, allow_missing_classes=config.data.allow_missing_classes)
        except (ValueError, FileNotFoundError) as exc:
            raise ConfigError("data.dataset", str(exc)) from exc
        records = [{"path": str(f), "sha256": lineage.file_sha256(f), "bytes": f.stat().st_size}
                   for f in sorted(folder.iterdir()) if f.suffix in (".parquet", ".npz") or f.name == DATASET_FILE]
        return ds, records

    splits, hidden, records = {}, {}, []
    for split, spec in config.data.tables.items():
        try:
            df = spec.load(config.data.class_names)
        except (ValueError, FileNotFoundError) as exc:
            raise ConfigError(f"data.{split}", str(exc)) from exc
        if spec.label_column is not None and config.data.class_names is None and df.attrs.get("class_names") and \
                not df.attrs["class_names"][0].isdigit():
            raise ConfigError("data.class_names", f"the labels of {spec.path.name} are class names "
                                                  f"({', '.join(df.attrs['class_names'][:6])}); list them in "
                                                  "data.class_names so that every table maps them to the same ids")
        records += [{"split": split, "path": str(f), "sha256": lineage.file_sha256(f), "bytes": f.stat().st_size}
                    for f in spec.files]  # a pool may be a folder of Parquet files
        if split == "train" and spec.label_column is not None:
            # Gold labels of the pool only measure synthetic-label quality: never trained on, never exported.
            hidden["train"] = df.set_index("example_id")["label"].rename("gold")
            df = df.drop(columns=list(dict.fromkeys(["label", spec.label_column])))
        elif split != "train":
            missing = int((df["label"] < 0).sum())
            if missing:
                raise ConfigError(f"data.{split}.label_column", f"{missing} row(s) of {spec.path.name} have no label")
        splits[split] = df

    labeled = [splits[s]["label"] for s in splits if s != "train"]
    k_seen = int(max(int(y.max()) for y in labeled)) + 1
    class_names = config.data.class_names or [str(c) for c in range(max(2, k_seen))]
    if k_seen > len(class_names):
        raise ConfigError("data.class_names", f"labels go up to {k_seen - 1} but only {len(class_names)} class names are given")
    try:
        # made permissive first so that an id in two split files is a problem of `data` and a class without
        # a labeled row one of `data.class_names`
        ds = Dataset(name=config.name, splits=splits, class_names=class_names, hidden_labels=hidden,
                     allow_missing_classes=True)
    except ValueError as exc:
        raise ConfigError("data", str(exc)) from exc
    ds.allow_missing_classes = bool(config.data.allow_missing_classes)
    try:
        ds.check_class_names()
    except ValueError as exc:
        raise ConfigError("data.class_names", str(exc)) from exc
    return ds, records


def _load_lfs(config: PipelineConfig) -> LFModule:
    """The config's LF module, loaded afresh; a module that cannot be loaded is a problem of key ``lfs``."""
    try:
        return load_lf_module(config.lfs.module, attribute=config.lfs.attribute)
    except LFModuleError as exc:
        raise ConfigError("lfs.attribute" if exc.part == "attribute" else "lfs", str(exc)) from exc


def load_inputs(config: PipelineConfig) -> StageResult[Inputs]:
    """Load the data and the LF module; record every input file, split and LF."""
    ds, files = load_data(config)
    loaded = _load_lfs(config)
    source = loaded.path.read_text(encoding="utf-8")
    module_record = {"reference": config.lfs.module, "attribute": loaded.attribute, "path": str(loaded.path),
                     "sha256": lineage.file_sha256(loaded.path), "source": source}
    splits = {s: {"rows": int(len(df)), "sha256": lineage.frame_sha256(df)} for s, df in ds.splits.items()}
    inputs = {"source": f"bundled:{config.data.bundled}" if config.data.bundled else "tables", "files": files,
              "splits": splits}
    lf_recs = lineage.lf_records(loaded.lfs)
    steps = {
        "inputs": lineage.step_record(lineage.json_sha256([files, splits]), files={f["path"]: f["sha256"] for f in files},
                                      splits={s: r["rows"] for s, r in splits.items()}),
        "lfs": lineage.step_record(lineage.json_sha256([[r["name"], r["fingerprint"]] for r in lf_recs]),
                                   fingerprints={r["name"]: r["fingerprint"] for r in lf_recs}),
    }
    return StageResult(Inputs(ds, loaded.lfs, [r["name"] for r in lf_recs]),
                       {"inputs": inputs, "lf_module": module_record, "lfs": lf_recs}, steps)


# --------------------------------------------------------------------------- apply LFs


def apply_stage(ds: Dataset, lfs: list, lf_names: list[str], progress_bar: bool | None = None,
                fingerprints: Mapping[str, str] | None = None) -> StageResult[dict]:
    """The label matrix ``L`` of every split the later stages read (train, seed, dev, test, canary).

    ``fingerprints`` are the splits' :func:`~workbench.labeling.data_fingerprint` as the load stage
    recorded them: the LF cache's key without hashing a million rows again.
    """
    fingerprints = fingerprints or {}
    L = {s: apply_lfs(df, lfs, cardinality=ds.cardinality, progress_bar=progress_bar, data_key=fingerprints.get(s))
         for s, df in ds.splits.items() if s in ("train", "seed", "dev", "test", "canary")}
    voted = L["train"] != ABSTAIN
    steps = {"apply": lineage.step_record(
        lineage.array_sha256(*(L[s] for s in sorted(L))),
        train_columns={n: lineage.array_sha256(L["train"][:, j])[:16] for j, n in enumerate(lf_names)},
        coverage={n: round(float(voted[:, j].mean()), 6) for j, n in enumerate(lf_names)},
    )}
    return StageResult(L, steps=steps)


# --------------------------------------------------------------------------- label model


@dataclass(frozen=True)
class Generated:
    """The label model and what the generators made of the pool: probabilities, labels, the label
    source, and (with more than one generator) how much they disagree per row (0..1)."""

    model: Any
    proba: np.ndarray
    labels: np.ndarray
    source: str
    disagreement: np.ndarray | None = None


def _model_settings(kind: str, cfg: LabelModelConfig) -> dict:
    """The config's settings that the registered model ``kind`` takes as ``__init__`` keywords."""
    accepted = inspect.signature(LABEL_MODELS[kind]).parameters
    offered = {"random_state": cfg.random_state, "n_epochs": cfg.n_epochs, "lr": cfg.lr, "l2": cfg.l2}
    return {name: value for name, value in offered.items() if name in accepted}


def _parameters(model: Any) -> dict:
    """The model's constructor parameters as set (``cardinality``, unset ones and fitted ``*_`` left out)."""
    names = inspect.signature(type(model)).parameters
    return {n: getattr(model, n) for n in names
            if n != "cardinality" and not n.endswith("_") and getattr(model, n, None) is not None}


def label_model_stage(cfg: LabelModelConfig, L: dict, y_dev: np.ndarray, lfs: list, k: int,
                      y_seed: np.ndarray | None = None, y_train: np.ndarray | None = None) -> StageResult[Generated]:
    """Fit the configured label model and label the pool.

    A model that learns from labels gets every labeled row there is: the review answers on pool
    rows (``y_train``, one entry per pool row, ``ABSTAIN`` where no reviewer answered) and the
    ``seed`` split's labels (``y_seed``), as ``fit(L, y, selected=...)`` with ``ABSTAIN`` on
    unlabeled rows and the answers ``selected`` (a review queue chose their rows for their
    uncertainty, so they are no sample of the pool); the others the pool alone. ``auto``
    (:class:`workbench.generate.AutoLabelModel`) compares the candidates on the dev rows and the
    cross-fitted seed rows, none of which the compared fits saw labeled, and records its choice,
    interval and reason (the health check's first message) with the comparison table.
    """
    record: dict = {"requested": cfg.kind}
    L_train = L["train"]
    model = LABEL_MODELS[cfg.kind](cardinality=k, **_model_settings(cfg.kind, cfg))
    if isinstance(model, AutoLabelModel) and not (L["dev"] != ABSTAIN).any():
        raise PipelineError(
            f"label model: no LF votes on any of the {len(L['dev'])} dev rows, so 'auto' cannot compare the label "
            f"models on dev; the LFs ({', '.join(lf.name for lf in lfs)}) never fire there. "
            "Write LFs that cover some dev examples (compare their keywords or patterns with the dev texts, and "
            f"check data.text_column), or name the label model (label_model.kind: one of {', '.join(LABEL_MODELS.names())})")
    L_fit, y_fit, selected = L_train, None, None
    if model.uses_labels():
        y_pool = np.full(len(L_train), ABSTAIN, dtype=np.int64) if y_train is None else np.asarray(y_train, dtype=np.int64)
        selected = y_pool != ABSTAIN
        if y_seed is not None and len(L.get("seed", ())):
            L_fit = np.vstack([L_train, L["seed"]])
            y_pool = np.concatenate([y_pool, y_seed])
            selected = np.concatenate([selected, np.zeros(len(y_seed), dtype=bool)])
        y_fit = y_pool if (y_pool != ABSTAIN).any() else None
    try:
        if isinstance(model, AutoLabelModel):
            model.fit(L_fit, y_fit, selected=selected, L_eval=L["dev"], y_eval=y_dev)
        else:
            fit_with_selected(model, L_fit, y_fit, selected)
    except ValueError as exc:
        raise ConfigError("label_model.kind", f"{cfg.kind} cannot be fitted on this label matrix: {exc}") from exc
    used, fitted = cfg.kind, model
    if isinstance(model, AutoLabelModel):
        report = health_check(L_train, L["dev"], y_dev, lfs, label_model=model, cardinality=k)
        used, fitted = model.chosen_, model.model_
        record["reason"] = report.messages
        record["interval"] = [float(v) for v in model.interval_]
        record["candidates"] = {name: {c: (v if isinstance(v, str) else float(v)) for c, v in row.items()}
                                for name, row in model.comparison_.iterrows()}
    record.update({"used": used, "class": f"{type(fitted).__module__}.{type(fitted).__name__}",
                   "settings": _parameters(fitted), "labeled_rows": 0 if y_fit is None else int((y_fit != ABSTAIN).sum()),
                   "lf_accuracies": dict(zip((lf.name for lf in lfs), map(float, model.lf_accuracies_)))})
    proba = np.round(model.predict_proba(L_train), PROBA_DECIMALS)
    labels = model.predict(L_train, tie_break="prior")  # ties go to the class the model thinks more common
    steps = {"label_model": lineage.step_record(lineage.array_sha256(proba, labels), used=used)}
    return StageResult(Generated(model, proba, labels, model.source),
                       {"label_model": record, "seeds": {"label_model": cfg.random_state}}, steps)


# --------------------------------------------------------------------------- filter


@dataclass(frozen=True)
class Curated:
    """The funnel, the curated rows as the export table, their texts normalised (as the filter
    steps compared them) and their LSH band keys (as the near-duplicate step computed them, None
    without that step): the leakage check reuses both."""

    funnel: Funnel
    table: pd.DataFrame
    normalized: pd.Series
    band_keys: BandKeys | None = None


def filter_stage(config: PipelineConfig, ds: Dataset, L_train: np.ndarray, generated: Generated, lf_names: list[str],
                 progress_bar: bool | None = None, human: np.ndarray | None = None,
                 human_weight: float = 1.0) -> StageResult[Curated]:
    """Run the configured filter steps (:data:`workbench.curate.FILTER_STEPS`) and build the export table.

    ``human`` (one entry per pool row, ``ABSTAIN`` where no reviewer answered) gives the rows a
    human labeled: they skip the filters (a confidence threshold means nothing for a human label)
    and enter the table with ``label_source`` ``human_review``, a one-hot ``proba`` and
    ``human_weight``; the leakage stage still checks them like every other row.
    """
    pool = ds["train"]
    answered = np.zeros(len(pool), dtype=bool) if human is None else human != ABSTAIN
    filtered = np.flatnonzero(~answered)
    # without human answers every row is filtered: the pool as it is, not a copy of its million rows
    context = FilterContext(pool.iloc[filtered] if answered.any() else pool, generated.proba[filtered], L=L_train[filtered],
                            class_names=ds.class_names,
                            progress_bar=progress_bar, protected={s: ds[s] for s in PROTECTED_SPLITS if s in ds.splits},
                            disagreement=None if generated.disagreement is None else generated.disagreement[filtered])
    funnel = run_filter_steps(context, ((f.step, f.params) for f in config.filters))
    record = _with_class_counts(funnel.to_dict(), funnel, np.asarray(generated.labels)[filtered], ds.class_names)
    record["human_review_rows_exempt"] = int(answered.sum())
    rows = np.sort(np.concatenate([filtered[funnel.kept_mask], np.flatnonzero(answered)]))
    if not len(rows):
        raise PipelineError(f"the filters removed all {len(pool)} pool rows; funnel: "
                            + ", ".join(f"{s['step']} kept {s['n_kept']}" for s in record["steps"]))
    missing = [c for c in config.export.columns if c not in pool.columns]
    if missing:
        gold = " (the pool's gold labels are never exported)" if ds.hidden_labels.get("train") is not None else ""
        raise ConfigError("export.columns", f"{missing} are not columns of the pool{gold}; "
                                            f"columns are {[str(c) for c in pool.columns]}")
    proba, labels = generated.proba.copy(), np.asarray(generated.labels).copy()
    if answered.any():
        labels[answered] = human[answered]
        proba[answered] = np.eye(ds.cardinality)[human[answered]]
    human_rows = answered[rows]
    kept = np.flatnonzero(funnel.kept_mask)
    normalized = context.normalized(kept)
    band_keys = context.band_keys(kept)
    if human_rows.any():  # human rows (not filtered) have no normalised text yet, nor band keys
        normalized = pd.concat([normalized.set_axis(np.flatnonzero(~human_rows)),
                                normalize_text(pool[TEXT_COLUMN].iloc[rows[human_rows]]).set_axis(np.flatnonzero(human_rows))])
        normalized = normalized.sort_index().reset_index(drop=True)
        if band_keys is not None:
            band_keys = band_keys.spread(~human_rows)
    table = build_export_frame(pool.iloc[rows], proba[rows], class_names=ds.class_names,
                               source=np.where(human_rows, "human_review", generated.source).tolist(),
                               columns=config.export.columns,
                               L=L_train[rows], lf_names=lf_names, labels=labels[rows],
                               sample_weight=np.where(human_rows, human_weight, config.end_model.synthetic_weight))
    if generated.disagreement is not None:
        # the score is apart from the decision: the flag is the score against generators.disagreement
        table[DISAGREEMENT_SCORE] = generated.disagreement[rows]
        table[GENERATORS_DISAGREE] = generated.disagreement[rows] >= config.generators.disagreement
    steps = {"filter": lineage.step_record(lineage.json_sha256(record), steps={
        f"{i}:{s['step']}": {"n_in": s["n_in"], "n_kept": s["n_kept"]} for i, s in enumerate(record["steps"])})}
    thresholds = {f"{f.step}.{p}": v for f in config.filters for p, v in f.params.items()}
    return StageResult(Curated(funnel, table, normalized, band_keys),
                       {"funnel": record, "thresholds": thresholds}, steps)


def _with_class_counts(record: dict, funnel: Funnel, labels: np.ndarray, class_names: list[str]) -> dict:
    """The funnel record with the rows of each class (by the generated label) in the pool
    (``n_pool_by_class``) and after every step (``n_kept_by_class``): which step thinned which class."""
    rows = np.arange(len(labels))  # each step looked at exactly the rows the previous one kept, in order
    record["n_pool_by_class"] = _class_counts(labels, class_names)
    for step, step_record in zip(funnel.steps, record["steps"]):
        rows = rows[step.kept]
        step_record["n_kept_by_class"] = _class_counts(labels[rows], class_names)
    return record


def _class_counts(labels: np.ndarray, class_names: list[str]) -> dict[str, int]:
    """Rows per class name among ``labels`` (abstentions not counted)."""
    voted = labels[labels != ABSTAIN]
    return dict(zip(class_names, map(int, np.bincount(voted, minlength=len(class_names)))))


# --------------------------------------------------------------------------- leakage


@dataclass(frozen=True)
class TrainingSet:
    """What the end model may train on once leakage is handled: the export table, and the seed
    split's rows and labels (None when the seed split is not mixed in)."""

    table: pd.DataFrame
    seed: pd.DataFrame | None = None
    seed_labels: np.ndarray | None = None


def _guard(report: LeakageReport, first: int, ids: np.ndarray, part: str, what: str,
           policy: LeakagePolicy) -> tuple[np.ndarray, dict]:
    """Act on the matches of one set (rows ``first`` to ``first + len(ids)`` of the checked frame):
    refuse, or mark rows for removal, as ``policy`` (``leakage.<part>``) says.

    Returns the mask of the set's rows to keep, and the set's record.
    """
    position = report.matches["train_position"].to_numpy()
    m = report.matches[(position >= first) & (position < first + len(ids))]
    m = m.assign(train_position=m["train_position"] - first)
    exact = np.zeros(len(ids), dtype=bool)
    exact[m.loc[m["kind"] == "exact", "train_position"].to_numpy()] = True
    near = np.zeros(len(ids), dtype=bool)
    near[m.loc[m["kind"] == "near", "train_position"].to_numpy()] = True
    near &= ~exact  # a row with an exact copy is an exact case, whatever else it resembles
    refused = (exact & (policy.exact == "refuse")) | (near & (policy.near == "refuse"))
    if refused.any():
        # the error lists the refused rows only; rows the policy removes are no reason to stop
        keys = " and ".join(f"leakage.{part}.{kind}: refuse" for kind, found in (("exact", exact), ("near", near))
                            if (found & refused).any())
        shown = m[refused[m["train_position"].to_numpy()]]
        dataclasses.replace(report, matches=shown, n_train=len(ids)).enforce(what=f"{what} ({keys})")
    removed = (exact & (policy.exact == "remove")) | (near & (policy.near == "remove"))
    record = {
        "rows": int(len(ids)),
        "policy": dataclasses.asdict(policy),
        "exact_copies": ids[exact].tolist(),
        "near_copies": ids[near].tolist(),
        "removed": ids[removed].tolist(),
        "matches": m[["train_id", "protected_split", "protected_id", "kind", "similarity"]]
        .astype({"train_id": str, "protected_id": str, "similarity": float}).to_dict(orient="records"),
    }
    return ~removed, record


def leakage_stage(config: PipelineConfig, ds: Dataset, table: pd.DataFrame, normalized: pd.Series | None = None,
                  progress_bar: bool | None = None, band_keys: BandKeys | None = None) -> StageResult[TrainingSet]:
    """Run the library's leakage check (exact and near copies) on every set the end model trains on:
    the export table and, when mixed in, the seed split; refuse or remove copies as ``leakage:`` says.
    ``normalized`` are the table's texts normalised (:attr:`Curated.normalized`) and ``band_keys``
    their LSH band keys (:attr:`Curated.band_keys`), when known."""
    cfg = config.leakage
    protected = {s: ds[s] for s in PROTECTED_SPLITS if s in ds.splits}
    sets = {"export": ("the export table", table, cfg.export)}
    if config.end_model.mix_seed and "seed" in ds.splits:
        sets["seed"] = ("the seed split", ds["seed"], cfg.seed)
    # One check over all sets: the protected rows' signatures are computed once.
    checked = pd.concat([df[[ID_COLUMN, TEXT_COLUMN]] for _, df, _ in sets.values()], ignore_index=True)
    if normalized is not None:
        normalized = pd.concat([normalized.reset_index(drop=True),
                                *[normalize_text(df[TEXT_COLUMN]) for part, (_, df, _) in sets.items() if part != "export"]],
                               ignore_index=True)
    if band_keys is not None:  # the seed rows come after the table's, without keys
        band_keys = band_keys.spread(np.arange(len(checked)) < len(table))
    report = check_leakage(checked, protected, near=cfg.near_duplicates, threshold=cfg.threshold, progress_bar=progress_bar,
                           normalized=normalized, band_keys=band_keys)
    record = {"method": report.method, "protected_sizes": {s: int(len(df)) for s, df in protected.items()},
              "export": None, "seed": None}
    keep, first = {}, 0
    for part, (what, df, policy) in sets.items():
        keep[part], record[part] = _guard(report, first, df[ID_COLUMN].astype(str).to_numpy(), part, what, policy)
        first += len(df)
    training = TrainingSet(table[keep["export"]].reset_index(drop=True))
    if "seed" in sets:
        training = dataclasses.replace(training, seed=ds["seed"][keep["seed"]], seed_labels=ds.gold("seed")[keep["seed"]])
    if training.table.empty:
        raise PipelineError(f"the leakage check removed all {len(table)} rows of the export table")
    steps = {"leakage": lineage.step_record(lineage.json_sha256(record), method=report.method,
                                            removed={p: len(r["removed"]) for p, r in record.items() if p in sets})}
    # when the check ran is no part of what it found: recorded, never hashed
    return StageResult(training, {"evaluation": {"leakage": {**record, "checked_at": report.checked_at}}}, steps)


# --------------------------------------------------------------------------- end model


def end_model_stage(config: PipelineConfig, training: TrainingSet, class_names: list[str]) -> StageResult[Any]:
    """Train the end model on the export table's labels (``end_model.targets``: hard or soft), plus the
    seed split's hand labels when mixed in."""
    table = training.table
    texts = table["text"].tolist()  # not list(): iterating arrow strings one by one is slow
    if config.end_model.targets == "soft":
        targets = table[[PROBA_PREFIX + str(c) for c in class_names]].to_numpy()
    else:
        targets = one_hot(table["label"].to_numpy(), len(class_names))
    weights = table["sample_weight"].to_numpy()
    if training.seed is not None:
        texts += training.seed["text"].tolist()
        targets = np.vstack([targets, one_hot(training.seed_labels, len(class_names))])
        weights = np.concatenate([weights, np.full(len(training.seed), config.end_model.seed_weight)])
    classes = np.unique(targets.argmax(axis=1))
    if config.end_model.targets == "hard" and len(classes) < 2:
        raise PipelineError(f"end model: all {len(targets)} training rows have the label {class_names[classes[0]]!r}, so "
                            "there is nothing to tell apart; check the LFs and the filters (the funnel in the report), "
                            "or train on the label model's probabilities (end_model.targets: soft)")
    return StageResult(train_end_model(texts, targets, sample_weight=weights, C=config.end_model.C))


# --------------------------------------------------------------------------- evaluate


def _metrics(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> dict:
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "f1_macro": float(f1_score(y_true, y_pred, labels=list(range(k)), average="macro", zero_division=0)),
            "n": int(len(y_true))}


def _per_class(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict:
    """Precision, recall, F1 and support of each class, by class name (the report's per-class table)."""
    p, r, f, n = precision_recall_fscore_support(y_true, y_pred, labels=list(range(len(class_names))), zero_division=0)
    return {name: {"precision": float(p[c]), "recall": float(r[c]), "f1": float(f[c]), "support": int(n[c])}
            for c, name in enumerate(class_names)}


def _rounded(obj: Any, decimals: int = PROBA_DECIMALS) -> Any:
    if isinstance(obj, dict):
        return {k: _rounded(v, decimals) for k, v in obj.items()}
    if isinstance(obj, float):
        return round(obj, decimals)
    return obj


#: A class is flagged when its share of the export is below this fraction of the low end of the
#: 95% interval of its dev share: rarer than chance or an honest class-balance shift explains.
UNDER_REPRESENTED = 0.5


def _where_lost(name: str, funnel: dict | None, export_rows: int) -> str:
    """Which step removed the rows of class ``name``, from the funnel's per-class counts."""
    steps = (funnel or {}).get("steps", [])
    if not funnel or "n_pool_by_class" not in funnel or any("n_kept_by_class" not in s for s in steps):
        return "see the funnel in the report for the step that removed its rows"
    before = funnel["n_pool_by_class"][name]
    if before == 0:
        return ("the label model gave no pool row this label; check the LFs that vote for it and the "
                "label model's class balance")
    losses = []
    for step in steps:
        after = step["n_kept_by_class"][name]
        losses.append((before - after, before, step["step"]))
        before = after
    removed, had, step = max(losses)
    text = f"the {step} step removed {removed} of its {had} rows"
    if before > export_rows:
        text += f", the leakage check {before - export_rows} more"
    return text + f" (the label model labelled {funnel['n_pool_by_class'][name]} pool rows {name!r})"


def class_check(export_labels: Any, dev_labels: Any, class_names: list[str], funnel: dict | None = None) -> dict:
    """Each class's share of the export against its share of the dev set.

    A label model whose probabilities never reach the confidence threshold for one class exports
    the other classes only, and the end model, trained on them plus a few seed rows, still runs:
    the result is silently wrong. Returns a JSON-safe record: per class the dev rows, dev share and
    its 95% Wilson interval, the export rows and share; ``missing`` (classes of the dev set with no
    export row) and ``warnings`` (one sentence per missing or under-represented class, naming the
    step that removed its rows when ``funnel`` has per-class counts). A class is under-represented
    when its export share is below :data:`UNDER_REPRESENTED` times the low end of its dev interval.
    """
    k = len(class_names)
    export_labels, dev_labels = np.asarray(export_labels), np.asarray(dev_labels)
    export = np.bincount(export_labels[export_labels != ABSTAIN], minlength=k)
    dev = np.bincount(dev_labels, minlength=k)
    n_export, n_dev = int(export.sum()), int(dev.sum())
    classes, missing, warnings_ = {}, [], []
    for c, name in enumerate(class_names):
        low, high = wilson_interval(int(dev[c]), n_dev)
        share = export[c] / n_export if n_export else 0.0
        classes[name] = {"dev_rows": int(dev[c]), "dev_share": float(dev[c] / n_dev) if n_dev else None,
                         "dev_share_interval": [low, high], "export_rows": int(export[c]), "export_share": float(share)}
        if dev[c] == 0:
            continue
        seen = f"{dev[c]} of {n_dev} dev rows ({dev[c] / n_dev:.0%}, 95% interval {low:.0%} to {high:.0%})"
        if export[c] == 0:
            missing.append(name)
            warnings_.append(f"class {name!r} has none of the export's {n_export} rows but {seen}: "
                             f"{_where_lost(name, funnel, 0)}")
        elif share < UNDER_REPRESENTED * low:
            warnings_.append(f"class {name!r} is {share:.1%} of the export ({export[c]} of {n_export} rows) but {seen}: "
                             f"{_where_lost(name, funnel, int(export[c]))}")
    return {"classes": classes, "missing": missing, "warnings": warnings_,
            "rule": f"its export share is below {UNDER_REPRESENTED:g} x the low end of its dev share's 95% interval"}


def evaluate_stage(config: PipelineConfig, ds: Dataset, L: dict, label_model: Any, end_model: Any,
                   training: TrainingSet, funnel: dict | None = None) -> StageResult[dict]:
    """Both models on the clean test set, the end model on the canary set, the exported labels against
    the pool's hidden gold labels (when there are any), the export's classes against the dev set's
    (:func:`class_check`, with the filter stage's ``funnel`` record to name the step that thinned a
    class: a :class:`ClassShareWarning` per missing or under-represented class, also printed in the
    summary and the report); then the canary gate before export.
    """
    k, table = ds.cardinality, training.table
    y_test = ds.gold("test")
    predicted = end_model.predict(ds["test"]["text"])
    evaluation = {
        "test": {
            "label_model": label_model_score(label_model, L["test"], y_test, split="test").to_dict(),
            "end_model": {**_metrics(y_test, predicted, k), "per_class": _per_class(y_test, predicted, ds.class_names)},
        },
        "canary": None,
        "canary_gate": None,
        "synthetic_label_accuracy": None,
    }
    if "canary" in ds.splits:
        evaluation["canary"] = {"end_model": _metrics(ds.gold("canary"), end_model.predict(ds["canary"]["text"]), k)}
    gold = ds.hidden_labels.get("train")
    if gold is not None:
        truth = gold.reindex(table["example_id"]).to_numpy()
        known = truth >= 0  # a user's pool may have gold for some rows only (-1 elsewhere)
        evaluation["synthetic_label_accuracy"] = {
            "accuracy": float((truth[known] == table["label"].to_numpy()[known]).mean()) if known.any() else None,
            "n": int(known.sum()),
            "note": "agreement of the exported labels with the pool's hidden gold labels (never trained on)"}
    evaluation["end_model_training"] = {"synthetic_rows": int(len(table)),
                                        "seed_rows": 0 if training.seed is None else int(len(training.seed))}
    # Warned, not refused: starter LFs (workbench init) or a small reviewed round can leave a class out
    # on purpose; the summary, the report and the manifest say so in any case.
    classes = evaluation["classes"] = class_check(table["label"].to_numpy(), ds.gold("dev"), ds.class_names, funnel)
    for message in classes["warnings"]:
        warnings.warn(f"class check: {message}", ClassShareWarning, stacklevel=2)
    verdict = None
    if "canary" in ds.splits:
        c = config.canary
        verdict = canary_gate(end_model, ds["canary"], c.metric, c.minimum, override=c.override)
        evaluation["canary_gate"] = verdict.to_dict()
    # The gate's verdict counts, not the moment it was checked.
    judged = {key: value for key, value in evaluation.items() if key != "canary_gate"}
    judged["canary_gate"] = None if verdict is None else {"passed": verdict.passed, "value": verdict.value}
    steps = {"evaluation": lineage.step_record(lineage.json_sha256(_rounded(judged)), **_rounded(judged, 6))}
    if verdict is not None:
        verdict.enforce()  # a failed gate without an override refuses the export
    return StageResult(evaluation, {"evaluation": evaluation}, steps)


# --------------------------------------------------------------------------- export


def _merged(results: tuple[StageResult, ...]) -> tuple[dict, dict]:
    """The stages' manifest sections (sections of one name, like ``evaluation``, merged) and step records."""
    sections: dict = {}
    steps: dict = {}
    for result in results:
        for key, value in result.record.items():
            sections[key] = {**sections[key], **value} if isinstance(sections.get(key), dict) else value
        steps.update(result.steps)
    return sections, steps


def export_names(config: PipelineConfig) -> RunFiles:
    """File names of a run's export, manifest and report (``<name>.parquet``, ``<name>.parquet.manifest.json``, ...)."""
    export = f"{config.output.name}{SUFFIX[config.output.format]}"
    return RunFiles(export, export + lineage.MANIFEST_SUFFIX, f"{config.output.name}.report.{config.output.report}")


def export_stage(config: PipelineConfig, folder: Path, table: pd.DataFrame | PartitionedExport,
                 results: tuple[StageResult, ...], *, label_source: str, timings: dict,
                 overwrite: bool) -> StageResult[tuple[dict, ExportRun]]:
    """Write the export table, its lineage manifest and the report as a new run of the export folder,
    made current by one atomic rename (:func:`workbench.export.write_run`), and return the manifest and the run.

    A :class:`~workbench.export.PartitionedExport` (the Dask engine's parts, already written) is moved
    into the run as the folder ``<name>.parquet/``, under the same one manifest.

    ``results`` are the earlier stages' (their records make the manifest), ``timings`` their
    wall times; the export's own is measured up to writing the manifest.
    """
    started = time.perf_counter()
    sections, steps = _merged(results)
    rounds = sections.pop("rounds", None)
    names = export_names(config)
    fmt = export_format(names.export, config.output.format)
    partitioned = isinstance(table, PartitionedExport)
    if partitioned:
        table_sha, n_rows, columns = table.table_sha256, table.rows, table.columns
    else:
        table_sha, n_rows, columns = lineage.frame_sha256(table), len(table), list(table.columns)
    steps["export_table"] = lineage.step_record(table_sha, rows=n_rows, columns=columns)
    written: dict = {}

    def write(staging: Path, run: Path) -> RunFiles:
        export, manifest_file = staging / names.export, staging / names.manifest
        if partitioned:
            table.parts.rename(export)
        else:
            write_export_file(table, export, fmt)
        file_sha = export_file_sha256(export, fmt)
        steps["export_file"] = lineage.step_record(file_sha, format=fmt)
        manifest = lineage.build_manifest(
            config=config.to_dict(),
            export={"file": names.export, "format": fmt, "sha256": file_sha, "rows": int(n_rows),
                    "columns": columns, "table_sha256": table_sha, "label_source": label_source,
                    **({"parts": len(list(export.glob("*.parquet")))} if partitioned else {})},
            steps={s: steps[s] for s in lineage.STEP_ORDER if s in steps},
            timings={**timings, "export": round(time.perf_counter() - started, 3)},
            rounds=rounds,
            **sections,
        )
        manifest_file.write_text(lineage.dump_manifest(manifest), encoding="utf-8")
        if fmt == "parquet" and not partitioned:  # a partitioned export's manifest hash is kept in the pointer
            embed_manifest_sha256(export, lineage.file_sha256(manifest_file))
        report = render_report(manifest, run / names.export, run / names.manifest, config.output.report)
        (staging / names.report).write_text(report, encoding="utf-8")
        written["manifest"] = manifest
        return names

    run = write_run(folder, write, overwrite=overwrite)
    return StageResult((written["manifest"], run))
