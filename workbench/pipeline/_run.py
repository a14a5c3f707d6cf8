"""The headless pipeline: the notebooks' main job, from a config file, without Jupyter.

:func:`run_pipeline` runs the stages of :mod:`workbench.pipeline._stages` in order: load the
data (the bundled YouTube spam set, or the user's tables) and the LF module, apply the LFs,
read the review answers (``review:``), fit the label model (a name in
:data:`workbench.generate.LABEL_MODELS`, or ``auto``: :class:`workbench.generate.AutoLabelModel` chooses on the dev set and the
cross-fitted labeled rows) with the seed labels and review answers as labeled rows, and the other ``generators:``, filter the proposals step by
step (:data:`workbench.curate.FILTER_STEPS`; the funnel), check every set the end model trains
on for protected rows (:func:`workbench.evaluate.check_leakage`), train the end model on the
generated labels (``end_model.targets``) mixed with the hand-labeled ``seed`` split (never dev, valid, test or canary),
let the end model relabel the pool while it beats its teacher (``rounds:``),
evaluate both models on the clean test set and gate the export on the canary set
(:func:`workbench.evaluate.canary_gate`), and write the curated set, its lineage manifest and
a short report as one new run of the export folder ``<output.dir>/<name>/``, made current by one
atomic rename of its ``latest.json`` (:mod:`workbench.export._runs`). ``python -m workbench run
CONFIG`` calls it. With ``engine: dask`` the pool is processed on a Dask cluster
(:mod:`workbench.pipeline._dask`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from workbench._internal.memory import release_unused_memory
from workbench._internal.paths import out_dir
from workbench._internal.progress import PROGRESS_MIN_ROWS
from workbench.export._runs import POINTER, ExportRun
from workbench.pipeline._config import ConfigError, PipelineConfig, load_config
from workbench.pipeline._report import render_summary
from workbench.pipeline._stages import (
    STAGES,
    StageResult,
    TrainingSet,
    apply_stage,
    end_model_stage,
    evaluate_stage,
    export_stage,
    filter_stage,
    leakage_stage,
    load_inputs,
)
from workbench.pipeline._generators import RoundsOutcome, generators_stage, review_stage, rounds_stage, route_to_review

@dataclass
class PipelineResult:
    """Everything a run produced: the run (its folder and files), the manifest, the export table, both
    models, and the stage times. On the Dask engine ``export`` holds the exported rows' columns the end
    model trained on (id, text, label, probabilities, weight); the whole export is read with
    :func:`workbench.export.read_export`."""

    config: PipelineConfig
    run: ExportRun
    manifest: dict
    export: pd.DataFrame
    label_model: Any
    end_model: Any
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        """The export folder, whose ``latest.json`` names its current run."""
        return self.run.folder

    @property
    def export_path(self) -> Path:
        return self.run.export_path

    @property
    def manifest_path(self) -> Path:
        return self.run.manifest_path

    @property
    def report_path(self) -> Path:
        return self.run.report_path

    def summary(self) -> str:
        """The short report printed at the end of ``python -m workbench run``."""
        return render_summary(self.manifest, self.run)


def export_folder(config: PipelineConfig, out: str | os.PathLike | None = None) -> Path:
    """The export folder of a config: ``<output.dir>/<name>/`` (``out`` overrides ``output.dir``)."""
    base = Path(out) if out is not None else config.output.dir if config.output.dir is not None else out_dir()
    return base / config.output.name


class _Stages:
    """Runs the stages one by one: times each, and shows them on a progress bar.

    The bar names the running stage and, once the pool's size is known, how fast the last
    stage went through it (pool rows per second). With ``progress_bar=None`` the bar appears
    once the data is loaded, if the pool has at least
    :data:`~workbench._internal.progress.PROGRESS_MIN_ROWS` rows.
    """

    def __init__(self, name: str, progress_bar: bool | None):
        self.name, self.progress_bar = name, progress_bar
        self.timings: dict[str, float] = {}
        self.rows: int | None = None
        self.bar = None
        self._last = ""
        if progress_bar:
            self._open(0)

    def _open(self, done: int) -> None:
        # When shown, $TQDM_DISABLE still applies.
        self.bar = tqdm(total=len(STAGES), initial=done, desc=f"workbench {self.name}", unit="stage")

    def run(self, stage: str, function: Callable[..., StageResult], *args: Any, **kwargs: Any) -> StageResult:
        if self.bar is not None:
            self.bar.set_postfix_str(stage + self._last)
        start = time.perf_counter()
        result = function(*args, **kwargs)
        release_unused_memory()  # the stage's temporaries, kept by the allocators, would sit under the next one's
        seconds = time.perf_counter() - start
        self.timings[stage] = round(seconds, 3)
        if self.bar is not None:
            # a pace only for a stage whose time shows (one under 0.05 s prints as 0.0 s, and any pace would be noise)
            paced = self.rows and seconds >= 0.05
            done = f"{stage} {seconds:.1f} s" + (f", {self.rows / seconds:,.0f} rows/s" if paced else "")
            self._last = f" (last: {done})"
            self.bar.set_postfix_str(done, refresh=False)  # shown by the update; the last stage's stays on the bar
            self.bar.update()
        return result

    def data_loaded(self, n_rows: int) -> None:
        self.rows = n_rows
        if self.progress_bar is None and n_rows >= PROGRESS_MIN_ROWS:
            self._open(len(self.timings))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_local(config: PipelineConfig, folder: Path, stages: _Stages, overwrite: bool,
               detail: bool | None) -> tuple[PipelineConfig, StageResult, TrainingSet, Any, Any]:
    """The stages on the local engine, in this process: the config (its review round pinned), the export's
    result, the training set and both models."""
    loaded = stages.run("load data", load_inputs, config)
    ds, lfs, lf_names = loaded.artifact.dataset, loaded.artifact.lfs, loaded.artifact.lf_names
    stages.data_loaded(len(ds["train"]))
    votes = stages.run("apply LFs", apply_stage, ds, lfs, lf_names, progress_bar=detail,
                       fingerprints={s: r["sha256"] for s, r in loaded.record["inputs"]["splits"].items()})
    L = votes.artifact
    # the config comes back with the review round pinned: the manifest records what was read
    reviewed, config = stages.run("review", review_stage, config, ds)
    answers = reviewed.artifact
    human = {} if answers is None else {"human": answers.y, "human_weight": answers.weight}
    generated, generator_set = stages.run("label model", generators_stage, config, L, ds, lfs, answers)
    curated = stages.run("filter", filter_stage, config, ds, L["train"], generated.artifact, lf_names,
                         progress_bar=detail, **human)
    route_to_review(config, ds, curated.record["funnel"], generated.artifact)
    guarded = stages.run("leakage", leakage_stage, config, ds, curated.artifact.table, curated.artifact.normalized,
                         progress_bar=detail, band_keys=curated.artifact.band_keys)
    learned = stages.run("end model", end_model_stage, config, guarded.artifact, ds.class_names)
    rounds, last = stages.run("rounds", rounds_stage, config, ds, L["train"], generator_set, lf_names,
                              RoundsOutcome(curated, guarded, learned), answers, progress_bar=detail)
    curated, guarded, learned = last.curated, last.guarded, last.learned
    training = guarded.artifact
    evaluated = stages.run("evaluate", evaluate_stage, config, ds, L, generated.artifact.model, learned.artifact,
                           training, funnel=curated.record["funnel"])
    exported = stages.run("export", export_stage, config, folder, training.table,
                          (loaded, votes, reviewed, generated, curated, guarded, learned, rounds, evaluated),
                          label_source=", ".join(sorted(training.table["label_source"].unique())), timings=dict(stages.timings),
                          overwrite=overwrite)
    return config, exported, training, generated.artifact.model, learned.artifact


def run_pipeline(
    config: PipelineConfig | str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    overwrite: bool | None = None,
    progress_bar: bool | None = None,
    echo: Callable[[str], Any] | None = print,
) -> PipelineResult:
    """Run the whole pipeline of ``config`` and write the export, its manifest and a report as a new run
    of the export folder ``<output.dir>/<name>/`` (current once its ``latest.json`` is switched).

    Parameters
    ----------
    config : PipelineConfig or path
        A validated config, or a YAML/TOML file to load.
    out : path, optional
        Output folder, overriding ``output.dir``.
    overwrite : bool, optional
        Make a new run current in a folder that already holds an export (default:
        ``output.overwrite``). Without it an existing export is refused before any work is
        done. The previous run is kept until the next switch.
    progress_bar : bool or None
        Show a progress bar over the stages (``tqdm.auto``); None shows one for a pool of
        at least 50,000 rows.
    echo : callable or None
        Receives the printed summary (``print`` by default; None for silence).

    Returns
    -------
    PipelineResult

    Raises
    ------
    ConfigError
        A config problem found while running (unreadable table, LF module that fails to
        import, a label model that cannot be fitted on the LFs).
    FileExistsError
        The export folder holds an export and ``overwrite`` is off.
    workbench.evaluate.LeakageError
        A set the end model would train on holds copies of protected rows and the
        ``leakage:`` policy says refuse (the default for exact copies).
    workbench.evaluate.CanaryGateError
        The end model failed the canary gate and the config gives no ``canary.override``.
    PipelineError
        The filters (or the leakage check) removed every row.

    Examples
    --------
    >>> result = run_pipeline("configs/youtube_spam.yaml", out=out_dir("demo"), overwrite=True)  # doctest: +SKIP
    >>> result.manifest["evaluation"]["test"]["end_model"]["accuracy"]  # doctest: +SKIP
    """
    if not isinstance(config, PipelineConfig):
        config = load_config(config)
    overwrite = config.output.overwrite if overwrite is None else overwrite
    folder = export_folder(config, out)
    if not overwrite and (folder / POINTER).exists():
        raise FileExistsError(f"{folder} already holds an export ({POINTER}); pass --overwrite "
                              "(or set output.overwrite: true) to make a new run current (the previous run is kept)")

    stages = _Stages(config.name, progress_bar)
    # Slow steps inside a stage show their own bars only for a large pool, and never when told not to
    # (every stage that can show one takes this; tests/pipeline: test_quiet_cli_shows_no_progress_at_all).
    detail = False if progress_bar is False else None
    # The fits here run on sparse text features and a handful of LF columns: BLAS thread pools
    # add nothing but spinning threads, which cost 10x and more on a busy machine.
    with threadpool_limits(limits=1):
        try:
            if config.engine.kind == "dask":
                from workbench.pipeline._dask import run_dask  # imports dask only when asked for

                exported, training, label_model, end_model = run_dask(config, folder, stages, overwrite=overwrite,
                                                                      progress_bar=detail)
            else:
                config, exported, training, label_model, end_model = _run_local(config, folder, stages, overwrite,
                                                                                detail)
        except ConfigError as exc:  # found while running (a table, the LF module): named like a problem found in parsing
            exc.source = exc.source or config.source
            raise
        finally:
            stages.close()

    manifest, run = exported.artifact
    result = PipelineResult(config, run, manifest, training.table, label_model, end_model, stages.timings)
    if echo is not None:
        echo(result.summary())
    return result
