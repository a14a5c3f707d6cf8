"""The headless pipeline: the notebooks' main job, from a config file, without Jupyter.

:func:`run_pipeline` loads the data (the bundled YouTube spam set, or the user's tables),
imports an LF module, applies it, fits the label model (``majority``, ``snorkel``, or
``auto``: whatever :func:`workbench.generate.health_check` chooses on the dev set),
filters the proposals step by step (the funnel), trains the end model on the soft labels
mixed with the hand-labeled ``seed`` split (never dev, valid, test or canary), evaluates
both models on the clean test set, gates the export on the canary set
(:func:`workbench.evaluate.canary_gate`), and writes the curated set, its lineage
manifest and a short report, all atomically. ``python -m workbench run CONFIG`` calls it.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import sys
import types
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from workbench._internal.atomic import atomic_files
from workbench._internal.paths import data_dir, out_dir
from workbench.curate._confidence import confidence_filter
from workbench.curate._dedupe import drop_duplicates, find_duplicates
from workbench.curate._funnel import FilterStep, Funnel
from workbench.curate._scores import exclude
from workbench.data._dataset import PROTECTED_SPLITS, Dataset, load_youtube_spam
from workbench.evaluate._canary import canary_gate
from workbench.evaluate._leakage import check_leakage
from workbench.export import _lineage as lineage
from workbench.export._table import (
    WRITERS,
    build_export_frame,
    export_format,
    refuse_leakage,
)
from workbench.generate._labelmodel import (
    MajorityVote,
    SnorkelLabelModel,
    health_check,
    proba_to_labels,
)
from workbench.labeling._engines import apply_lfs
from workbench.labeling._lf import ABSTAIN, check_unique_names, lf_fingerprint
from workbench.learn._learner import one_hot, train_end_model
from workbench.pipeline._config import (
    ConfigError,
    LFModuleSpec,
    PipelineConfig,
    load_config,
)

STAGES = ("load data", "apply LFs", "label model", "filter", "end model", "evaluate", "export")
SUFFIX = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}
#: Probabilities are rounded to this many decimals before anything uses them, so last-bit
#: floating-point noise (thread counts, BLAS builds) cannot change the export or its hash.
PROBA_DECIMALS = 10


class PipelineError(RuntimeError):
    """The pipeline cannot go on; the message says which stage and why."""


# --------------------------------------------------------------------------- loading


def load_lf_module(spec: LFModuleSpec | str) -> tuple[types.ModuleType, list, str]:
    """Import an LF module afresh and return ``(module, lfs, attribute)``.

    ``spec`` is a dotted module path (``workbench.data.youtube_lfs``) or a ``.py`` file. The
    LF list is ``spec.attribute`` if given, else ``LFS``, else the module's only list
    named ``*_LFS`` (like ``YOUTUBE_LFS``). The module's source file is compiled from its
    current text on every call into a private module (never from a stale bytecode cache,
    never replacing an imported module's objects), so an edited LF is always the one that runs.

    Raises
    ------
    ConfigError
        With key ``lfs``: the module cannot be imported, has no LF list, or the list
        holds something that is not an LF, or duplicate names.
    """
    spec = LFModuleSpec(spec) if isinstance(spec, str) else spec
    if spec.is_file:
        path = Path(spec.module)
        if not path.is_file():
            raise ConfigError("lfs", f"unknown LF module: no such file {path}")
    else:
        try:
            found = importlib.util.find_spec(spec.module)
        except (ImportError, ValueError) as exc:
            raise ConfigError("lfs", f"unknown LF module {spec.module!r}: {exc}") from exc
        if found is None or not found.origin or not found.origin.endswith(".py"):
            raise ConfigError("lfs", f"unknown LF module {spec.module!r}: no Python source file found for it")
        path = Path(found.origin)
    # A private, fresh copy: reloading the real module in place would swap the LF objects
    # under everyone else holding them (the studio, a notebook), and a stale bytecode cache
    # could hide an edit.
    name = f"_workbench_lfs_{lineage.json_sha256(str(path.resolve()))[:12]}"
    module = types.ModuleType(name)
    module.__file__ = str(path.resolve())
    sys.modules[name] = module  # decorators such as dataclasses look their module up here
    try:
        exec(compile(path.read_text(encoding="utf-8"), str(path.resolve()), "exec"), module.__dict__)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ConfigError("lfs", f"importing {spec.module} raised {type(exc).__name__}: {exc}") from exc

    attribute = spec.attribute
    if attribute is None:
        candidates = ["LFS"] if isinstance(getattr(module, "LFS", None), (list, tuple)) else [
            k for k, v in vars(module).items() if k.endswith("_LFS") and isinstance(v, (list, tuple))]
        if len(candidates) != 1:
            found = f"several lists ({sorted(candidates)})" if candidates else "no LFS list"
            raise ConfigError("lfs", f"{spec.module} has {found}; define LFS = [...] or set lfs.attribute")
        attribute = candidates[0]
    if not hasattr(module, attribute):
        raise ConfigError("lfs.attribute", f"{spec.module} has no {attribute!r}")
    lfs = getattr(module, attribute)
    if not isinstance(lfs, (list, tuple)) or not lfs:
        raise ConfigError("lfs.attribute" if spec.attribute else "lfs",
                          f"{spec.module}.{attribute} must be a non-empty list of LFs, got {type(lfs).__name__}")
    try:
        check_unique_names(lfs)
        for lf in lfs:
            lf_fingerprint(lf)
    except (TypeError, ValueError) as exc:
        raise ConfigError("lfs", f"{spec.module}.{attribute}: {exc}") from exc
    return module, list(lfs), attribute


def _module_record(module: types.ModuleType, spec: LFModuleSpec, attribute: str) -> dict:
    path = Path(module.__file__) if getattr(module, "__file__", None) else None
    source = path.read_text(encoding="utf-8") if path and path.is_file() else None
    return {
        "reference": spec.module,
        "attribute": attribute,
        "path": str(path) if path else None,
        "sha256": lineage.file_sha256(path) if source is not None else None,
        "source": source,
    }


def load_data(config: PipelineConfig) -> tuple[Dataset, list[dict]]:
    """The config's dataset and a record (path, SHA-256, size) of every file read."""
    if config.data.bundled == "youtube_spam":
        ds = load_youtube_spam()
        folder = data_dir() / "youtube_spam"
        files = sorted(folder.glob("*.csv"))
        records = [{"path": f"bundled:youtube_spam/{f.name}", "sha256": lineage.file_sha256(f), "bytes": f.stat().st_size}
                   for f in files]
        return ds, records

    splits, hidden, records = {}, {}, []
    for split, spec in config.data.tables.items():
        try:
            df = spec.load()
        except (ValueError, FileNotFoundError) as exc:
            raise ConfigError(f"data.{split}", str(exc)) from exc
        records.append({"split": split, "path": str(spec.path), "sha256": lineage.file_sha256(spec.path),
                        "bytes": spec.path.stat().st_size})
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
    return Dataset(name=config.name, splits=splits, class_names=class_names, hidden_labels=hidden), records


# --------------------------------------------------------------------------- filter steps


def _filter_step(step: str, params: dict, rows: np.ndarray, ctx: dict) -> FilterStep:
    """Run one configured filter step on ``rows`` (positions in the pool still kept)."""
    ids = ctx["ids"][rows]
    if step == "uncovered":
        covered = (ctx["L"][rows] != ABSTAIN).any(axis=1)
        return exclude(ids, ids[~covered], "no LF voted", name="uncovered")
    if step == "confidence":
        return confidence_filter(ctx["P"][rows], params["threshold"], ids=ids)
    if step == "protected_duplicates":
        leaked = check_leakage(ctx["pool"].iloc[rows], ctx["protected"], near=False).leaked
        return exclude(ids, ids[leaked], "same text as a protected (dev/valid/test/canary) row",
                               name="protected_duplicates")
    if step == "near_duplicates":
        clusters = find_duplicates(ctx["pool"]["text"].iloc[rows].to_numpy(), ids=ids, threshold=params["threshold"])
        return drop_duplicates(clusters, ids=ids, priority=ctx["P"][rows].max(axis=1))
    raise ValueError(f"unknown filter step {step!r}")


# --------------------------------------------------------------------------- the run


@dataclass
class PipelineResult:
    """Everything a run produced: the files, the manifest, the export table and both models."""

    config: PipelineConfig
    export_path: Path
    manifest_path: Path
    report_path: Path
    manifest: dict
    export: pd.DataFrame
    label_model: Any
    end_model: Any

    def summary(self) -> str:
        """The short report printed at the end of ``python -m workbench run``."""
        return render_summary(self.manifest, self.export_path, self.manifest_path, self.report_path)


def _metrics(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> dict:
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "f1_macro": float(f1_score(y_true, y_pred, labels=list(range(k)), average="macro", zero_division=0)),
            "n": int(len(y_true))}


def _rounded(obj: Any, decimals: int = PROBA_DECIMALS) -> Any:
    if isinstance(obj, dict):
        return {k: _rounded(v, decimals) for k, v in obj.items()}
    if isinstance(obj, float):
        return round(obj, decimals)
    return obj


def output_paths(config: PipelineConfig, out: str | os.PathLike | None = None) -> tuple[Path, Path, Path]:
    """Export, manifest and report paths of a config (``out`` overrides ``output.dir``)."""
    folder = Path(out) if out is not None else config.output.dir if config.output.dir is not None else out_dir()
    export = folder / f"{config.output.name}{SUFFIX[config.output.format]}"
    report = folder / f"{config.output.name}.report.{config.output.report}"
    return export, lineage.manifest_path_for(export), report


def run_pipeline(
    config: PipelineConfig | str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    overwrite: bool | None = None,
    progress: bool = True,
    echo: Callable[[str], Any] | None = print,
) -> PipelineResult:
    """Run the whole pipeline of ``config`` and write the export, its manifest and a report.

    Parameters
    ----------
    config : PipelineConfig or path
        A validated config, or a YAML/TOML file to load.
    out : path, optional
        Output folder, overriding ``output.dir``.
    overwrite : bool, optional
        Replace existing outputs (default: ``output.overwrite``). Without it an existing
        export is refused before any work is done.
    progress : bool
        Show a progress bar over the stages (``tqdm.auto``).
    echo : callable or None
        Receives the printed summary (``print`` by default; None for silence).

    Returns
    -------
    PipelineResult

    Raises
    ------
    ConfigError
        A config problem found while running (unreadable table, LF module that fails to import).
    FileExistsError
        The outputs exist and ``overwrite`` is off.
    workbench.export.LeakageError
        The curated set still holds protected rows (add the ``protected_duplicates`` step).
    workbench.evaluate.CanaryGateError
        The end model failed the canary gate and the config gives no ``canary.override``.
    PipelineError
        The filters removed every row, or a model cannot be fitted.

    Examples
    --------
    >>> result = run_pipeline("configs/youtube_spam.yaml", out=out_dir("demo"), overwrite=True)  # doctest: +SKIP
    >>> result.manifest["evaluation"]["test"]["end_model"]["accuracy"]  # doctest: +SKIP
    """
    if not isinstance(config, PipelineConfig):
        config = load_config(config)
    overwrite = config.output.overwrite if overwrite is None else overwrite
    export_path, manifest_path, report_path = output_paths(config, out)
    if not overwrite:
        existing = [str(p) for p in (export_path, manifest_path, report_path) if p.exists()]
        if existing:
            raise FileExistsError(f"{', '.join(existing)} already exist(s); pass --overwrite "
                                  "(or set output.overwrite: true) to replace")

    stage = iter(STAGES)

    def advance() -> None:
        bar.set_postfix_str(next(stage))

    # The fits here run on sparse text features and a handful of LF columns: BLAS thread pools
    # add nothing but spinning threads, which cost 10x and more on a busy machine.
    hide = {} if progress else {"disable": True}  # when shown, $TQDM_DISABLE still applies
    with threadpool_limits(limits=1), tqdm(total=len(STAGES), desc=f"workbench {config.name}", unit="stage", **hide) as bar:
        advance()  # load data
        ds, files = load_data(config)
        module, lfs, attribute = load_lf_module(config.lfs)
        module_record = _module_record(module, config.lfs, attribute)
        pool = ds["train"]
        k = ds.cardinality
        protected = {s: ds[s] for s in PROTECTED_SPLITS if s in ds.splits}
        splits_record = {s: {"rows": int(len(df)), "sha256": lineage.frame_sha256(df)} for s, df in ds.splits.items()}
        inputs = {"source": f"bundled:{config.data.bundled}" if config.data.bundled else "tables",
                  "files": files, "splits": splits_record}
        lf_recs = lineage.lf_records(lfs)
        names = [r["name"] for r in lf_recs]
        steps = {
            "inputs": lineage.step_record(lineage.json_sha256([files, splits_record]),
                                          files={f["path"]: f["sha256"] for f in files},
                                          splits={s: r["rows"] for s, r in splits_record.items()}),
            "lfs": lineage.step_record(lineage.json_sha256([[r["name"], r["fingerprint"]] for r in lf_recs]),
                                       fingerprints={r["name"]: r["fingerprint"] for r in lf_recs}),
        }
        bar.update()

        advance()  # apply LFs
        L = {s: apply_lfs(df, lfs, cardinality=k) for s, df in ds.splits.items() if s in ("train", "dev", "test", "canary")}
        steps["apply"] = lineage.step_record(
            lineage.array_sha256(*(L[s] for s in sorted(L))),
            train_columns={n: lineage.array_sha256(L["train"][:, j])[:16] for j, n in enumerate(names)},
            coverage={n: round(float((L["train"][:, j] != ABSTAIN).mean()), 6) for j, n in enumerate(names)},
        )
        bar.update()

        advance()  # label model
        label_model, lm_record = _fit_label_model(config, L["train"], L["dev"], ds.gold("dev"), lfs, k)
        P = np.round(label_model.predict_proba(L["train"]), PROBA_DECIMALS)
        labels = proba_to_labels(P, "prior", prior=label_model.class_balance_)
        steps["label_model"] = lineage.step_record(lineage.array_sha256(P, labels), used=lm_record["used"])
        bar.update()

        advance()  # filter
        ids = pool["example_id"].astype(str).to_numpy()
        rows = np.arange(len(pool))
        ctx = {"L": L["train"], "P": P, "pool": pool, "protected": protected, "ids": ids}
        chain = Funnel(ids)
        for f in config.filters:
            step = dataclasses.replace(_filter_step(f.step, f.params, rows, ctx), name=f.step)
            chain = chain.then(step)
            rows = rows[step.kept]
        funnel = chain.to_dict()
        funnel_steps = funnel["steps"]
        steps["filter"] = lineage.step_record(lineage.json_sha256(funnel), steps={
            f"{i}:{s['step']}": {"n_in": s["n_in"], "n_kept": s["n_kept"]} for i, s in enumerate(funnel_steps)})
        if not len(rows):
            raise PipelineError(f"the filters removed all {len(pool)} pool rows; funnel: "
                                + ", ".join(f"{s['step']} kept {s['n_kept']}" for s in funnel_steps))
        source = label_model.source
        export_df = build_export_frame(pool.iloc[rows], P[rows], class_names=ds.class_names, source=source,
                                       L=L["train"][rows], lf_names=names, labels=labels[rows],
                                       sample_weight=np.full(len(rows), config.end_model.synthetic_weight))
        leakage = refuse_leakage(export_df, protected, near=False).to_dict()
        steps["export_table"] = lineage.step_record(lineage.frame_sha256(export_df), rows=len(export_df),
                                                    columns=list(export_df.columns))
        bar.update()

        advance()  # end model
        texts, targets, weights = list(export_df["text"]), P[rows], export_df["sample_weight"].to_numpy()
        seed = ds["seed"] if config.end_model.mix_seed and "seed" in ds.splits else None
        if seed is not None:
            texts += list(seed["text"])
            targets = np.vstack([targets, one_hot(ds.gold("seed"), k)])
            weights = np.concatenate([weights, np.full(len(seed), config.end_model.seed_weight)])
        end_model = train_end_model(texts, targets, sample_weight=weights, C=config.end_model.C)
        bar.update()

        advance()  # evaluate
        evaluation = _evaluate(ds, L, label_model, end_model, export_df, k)
        evaluation["end_model_training"] = {"synthetic_rows": int(len(export_df)),
                                            "seed_rows": 0 if seed is None else int(len(seed))}
        verdict = None
        if "canary" in ds.splits:
            c = config.canary
            verdict = canary_gate(end_model, ds["canary"], c.metric, c.minimum, override=c.override)
            evaluation["canary_gate"] = verdict.to_dict()
        # The gate's verdict counts, not the moment it was checked.
        judged = {k: v for k, v in evaluation.items() if k != "canary_gate"}
        judged["canary_gate"] = None if verdict is None else {"passed": verdict.passed, "value": verdict.value}
        steps["evaluation"] = lineage.step_record(lineage.json_sha256(_rounded(judged)), **_rounded(judged, 6))
        if verdict is not None:
            verdict.enforce()  # a failed gate without an override refuses the export
        bar.update()

        advance()  # export
        fmt = export_format(export_path, config.output.format)
        with atomic_files([export_path, manifest_path, report_path], overwrite=overwrite) as (tmp_export, tmp_manifest, tmp_report):
            WRITERS[fmt](export_df, tmp_export)
            file_sha = lineage.file_sha256(tmp_export)
            steps["export_file"] = lineage.step_record(file_sha, format=fmt)
            manifest = lineage.build_manifest(
                config=config.to_dict(),
                inputs=inputs,
                lf_module=module_record,
                lfs=lf_recs,
                label_model=lm_record,
                seeds={"label_model": config.label_model.seed},
                thresholds={f"{f.step}.{p}": v for f in config.filters for p, v in f.params.items()},
                funnel=funnel,
                review={"decisions": 0, "store": None},
                evaluation=evaluation,
                leakage=leakage,
                export={"file": export_path.name, "format": fmt, "sha256": file_sha, "rows": int(len(export_df)),
                        "columns": list(export_df.columns), "table_sha256": steps["export_table"]["sha256"],
                        "label_source": source},
                steps={s: steps[s] for s in lineage.STEP_ORDER if s in steps},
            )
            tmp_manifest.write_text(lineage.dump_manifest(manifest), encoding="utf-8")
            tmp_report.write_text(render_report(manifest, export_path, manifest_path, config.output.report),
                                  encoding="utf-8")
        bar.update()

    result = PipelineResult(config, export_path, manifest_path, report_path, manifest, export_df, label_model, end_model)
    if echo is not None:
        echo(result.summary())
    return result


@contextmanager
def _single_threaded_torch():
    """Snorkel's label model has a few dozen parameters: torch's thread pool only adds overhead,
    and on a busy machine its spinning threads make a sub-second fit take tens of seconds."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _fit_label_model(config: PipelineConfig, L_train, L_dev, Y_dev, lfs, k: int) -> tuple[Any, dict]:
    """Fit the configured label model; for ``auto`` let the dev-set health check choose."""
    cfg = config.label_model
    snorkel_settings = {"n_epochs": cfg.n_epochs, "lr": cfg.lr, "l2": cfg.l2, "random_state": cfg.seed}
    record: dict = {"requested": cfg.kind}
    kind, snorkel = cfg.kind, None
    if kind == "auto" and L_train.shape[1] < 3:
        kind, record["reason"] = "majority", ["fewer than 3 LFs: Snorkel's label model cannot be fitted; using majority vote"]
    elif kind == "auto":
        with _single_threaded_torch():
            snorkel = SnorkelLabelModel(cardinality=k, **snorkel_settings).fit(L_train)
            report = health_check(L_train, L_dev, Y_dev, lfs, label_model=snorkel, cardinality=k)
        kind = "snorkel" if report.chosen == "label_model" else "majority"
        record["reason"] = report.messages
        record["dev_scores"] = {m: {c: float(v) for c, v in row.items()} for m, row in report.scores.iterrows()}
    if kind == "snorkel":
        if L_train.shape[1] < 3:
            raise ConfigError("label_model.kind", f"snorkel needs at least 3 LFs; the LF module has {L_train.shape[1]}")
        if snorkel is None:
            with _single_threaded_torch():
                snorkel = SnorkelLabelModel(cardinality=k, **snorkel_settings).fit(L_train)
        model = snorkel
        settings = {**snorkel_settings, "tie_break": model.tie_break}
    else:
        model = MajorityVote(cardinality=k, random_state=cfg.seed).fit(L_train)
        settings = {"tie_break": model.tie_break, "random_state": cfg.seed}
    record.update({"used": kind, "class": f"{type(model).__module__}.{type(model).__name__}", "settings": settings,
                   "lf_accuracies": dict(zip((lf.name for lf in lfs), map(float, model.lf_accuracies_)))})
    return model, record


def _evaluate(ds: Dataset, L: dict, label_model, end_model, export_df: pd.DataFrame, k: int) -> dict:
    y_test = ds.gold("test")
    evaluation = {
        "test": {
            "label_model": label_model.metrics(L["test"], y_test),
            "end_model": _metrics(y_test, end_model.predict(ds["test"]["text"]), k),
        },
        "canary": None,
        "canary_gate": None,
        "synthetic_label_accuracy": None,
    }
    if "canary" in ds.splits:
        evaluation["canary"] = {"end_model": _metrics(ds.gold("canary"), end_model.predict(ds["canary"]["text"]), k)}
    gold = ds.hidden_labels.get("train")
    if gold is not None:
        truth = gold.reindex(export_df["example_id"]).to_numpy()
        known = truth >= 0  # a user's pool may have gold for some rows only (-1 elsewhere)
        evaluation["synthetic_label_accuracy"] = {
            "accuracy": float((truth[known] == export_df["label"].to_numpy()[known]).mean()) if known.any() else None,
            "n": int(known.sum()),
            "note": "agreement of the exported labels with the pool's hidden gold labels (never trained on)"}
    return evaluation


# --------------------------------------------------------------------------- reports


def _fmt(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _gate_text(gate: dict) -> str:
    text = (f"{gate['metric']} {_fmt(gate['value'])} {'>=' if gate['passed'] else '<'} {_fmt(gate['minimum'])} "
            f"on {gate['n']} canary rows: {'passed' if gate['passed'] else 'FAILED'}")
    if gate.get("override"):
        text += f", exported under override ({gate['override']['reason']})"
    return text


def render_summary(manifest: dict, export_path: Path, manifest_path: Path, report_path: Path) -> str:
    """A few lines: the funnel, the label model, the test metrics, where the files are."""
    funnel, ev, lm = manifest["funnel"], manifest["evaluation"], manifest["label_model"]
    removed = ", ".join(f"{s['step']} -{s['n_in'] - s['n_kept']}" for s in funnel["steps"]) or "no filters"
    test = ev["test"]
    lines = [
        f"{manifest['config']['name']}: {funnel['n_pool']} pool rows -> {funnel['n_kept']} exported ({removed})",
        f"label model: {lm['used']}" + (f" (auto: {lm['reason'][0]})" if lm["requested"] == "auto" and lm.get("reason") else ""),
        f"test ({test['end_model']['n']} rows): label model accuracy {_fmt(test['label_model']['accuracy'])} "
        f"(coverage {_fmt(test['label_model']['coverage'])}), end model accuracy {_fmt(test['end_model']['accuracy'])}, "
        f"F1 {_fmt(test['end_model']['f1_macro'])}",
    ]
    if ev.get("canary_gate"):
        lines.append(f"canary gate: {_gate_text(ev['canary_gate'])}")
    if (ev.get("synthetic_label_accuracy") or {}).get("accuracy") is not None:
        lines.append(f"exported labels agree with hidden gold on {_fmt(ev['synthetic_label_accuracy']['accuracy'])} of rows")
    lines += [
        f"export:   {export_path} (sha256 {manifest['export']['sha256'][:12]})",
        f"manifest: {manifest_path}",
        f"report:   {report_path}",
        f"check it: python -m workbench reproduce {manifest_path}",
    ]
    return "\n".join(lines)


def render_report(manifest: dict, export_path: Path, manifest_path: Path, fmt: str = "md") -> str:
    """The report written beside the export: Markdown tables (``md``) or plain text (``txt``)."""
    md = fmt == "md"
    funnel, ev, lm = manifest["funnel"], manifest["evaluation"], manifest["label_model"]

    def table(header: list[str], rows: list[list[Any]]) -> list[str]:
        if md:
            return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                    *("| " + " | ".join(_fmt(c) for c in r) + " |" for r in rows), ""]
        widths = [max(len(_fmt(c)) for c in col) for col in zip(header, *rows)]
        return ["  ".join(_fmt(c).ljust(w) for c, w in zip(r, widths)) for r in [header, *rows]] + [""]

    h = (lambda t: f"## {t}") if md else (lambda t: f"{t}\n{'-' * len(t)}")
    out = [f"# Export report: {manifest['config']['name']}" if md else f"Export report: {manifest['config']['name']}", "",
           f"Created {manifest['created_at']}. Export `{export_path.name}` ({manifest['export']['rows']} rows, "
           f"{manifest['export']['format']}, sha256 `{manifest['export']['sha256']}`); lineage in `{manifest_path.name}`.", ""]
    out += [h("Funnel"), ""]
    rows = [["pool", "", funnel["n_pool"], ""]]
    for s in funnel["steps"]:
        why = "; ".join(f"{r}: {v['count']}" for r, v in s["removed"].items()) or "-"
        params = ", ".join(f"{k}={v}" for k, v in s["params"].items())
        rows.append([s["step"] + (f" ({params})" if params else ""), s["n_in"] - s["n_kept"], s["n_kept"], why])
    out += table(["step", "removed", "rows left", "reasons"], rows)
    out += [h("Label model"), "", f"Requested `{lm['requested']}`, used `{lm['used']}` ({lm['class']}).", ""]
    out += [f"- {m}" for m in lm.get("reason", [])] + ([""] if lm.get("reason") else [])
    test = ev["test"]
    out += [h("Evaluation on the clean test set"), ""]
    out += table(["model", "accuracy", "F1 (macro)", "coverage", "rows"], [
        ["label model", test["label_model"]["accuracy"], test["label_model"]["f1_macro"], test["label_model"]["coverage"],
         test["label_model"]["n"]],
        ["end model", test["end_model"]["accuracy"], test["end_model"]["f1_macro"], 1.0, test["end_model"]["n"]],
    ])
    if ev.get("canary_gate"):
        out += [f"Canary gate: {_gate_text(ev['canary_gate'])}. End model accuracy on the canary set: "
                f"{_fmt(ev['canary']['end_model']['accuracy'])}.", ""]
    training = ev["end_model_training"]
    out += [f"The end model trained on {training['synthetic_rows']} synthetic rows"
            + (f" and {training['seed_rows']} hand-labeled seed rows." if training["seed_rows"] else "."), ""]
    if (ev.get("synthetic_label_accuracy") or {}).get("accuracy") is not None:
        out += [f"Exported labels agree with the pool's hidden gold labels on "
                f"{_fmt(ev['synthetic_label_accuracy']['accuracy'])} of {ev['synthetic_label_accuracy']['n']} rows.", ""]
    leak = manifest["leakage"]
    out += [h("Leakage"), "", f"No exported row has the text of a protected row "
            f"({', '.join(f'{s}: {n}' for s, n in leak['protected_sizes'].items())}); checked by {leak['method']}.", ""]
    out += [h("Reproduce"), "", f"`python -m workbench reproduce {manifest_path}`", ""]
    return "\n".join(out)
