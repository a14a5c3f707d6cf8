"""The pipeline's Dask engine (``engine: dask``): the same run over a Parquet pool that need not fit in memory.

The pool (``data.train``: a Parquet file, a folder of files or a glob) is read partition by
partition on a Dask cluster; the labeled splits (seed, dev, valid, test, canary) are small and
stay in this process, as on the local engine. The pool is read two to four times (apply, filter, and
with ``near_duplicates`` the text keys and band keys), never held whole:

1. **apply LFs**: :class:`workbench.labeling.DaskLFApplier` on the partitions. Its result, the label
   matrix ``L`` (n x m int8), is collected here: 1 byte per row and LF, where the texts are 100 and more.
2. **label model**: fitted *here on the whole of* ``L`` by the local engine's own stage
   (:func:`workbench.pipeline._stages.label_model_stage`), which also predicts here: the
   probabilities and labels are n x (k + 1) numbers (26 bytes a row for 2 classes), so the
   results are exactly the local engine's, whatever the partitioning.
3. **filter**: each partition, read again, gets its own block of ``L``, probabilities and labels and
   runs the per-row filter steps (:data:`~workbench.pipeline._config.DASK_FILTER_STEPS`), the leakage
   check of its curated rows against the protected splits (broadcast: they are small) and writes
   its part of the export (``part-00000.parquet``, ...) into a folder beside the export runs. Only the
   columns the end model trains on (id, text, label, probabilities, weight) come back here: the
   curated rows are collected to train the end model in memory, so they must fit (the pool need not).
4. **end model**, **evaluate** and **export** are the local engine's stages; the export moves the
   written parts into the new run as the folder ``<name>.parquet/`` under one manifest
   (:class:`workbench.export.PartitionedExport`), switched in by ``latest.json`` as always.

``near_duplicates`` (its clusters span partitions) runs within the filter stage over the whole pool
(:func:`_near_duplicates`), between a pass of the steps before it and a pass of the steps after it:
MinHash signatures and LSH band keys by partition, the keys shuffled by band, candidate pairs
confirmed on the cluster as the local engine confirms them, clustered here.

Not run on Dask yet (refused by the config, naming the key): review answers, student rounds, and other
generators than the label model.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from tqdm.auto import tqdm

from workbench._internal.columns import PROBA_PREFIX
from workbench._internal.text import (
    LSH_WEIGHTS,
    NUM_PERM,
    SHINGLE_SIZE,
    exact_jaccard,
    lsh_bands,
    minhash_band_keys,
    minhash_signatures,
    normalize_text,
    signature_agreement,
    signature_decision,
)
from workbench._internal.validation import ABSTAIN
from workbench.curate._dedupe import (
    DuplicateClusters,
    _bucket_pairs,
    _first_position,
    drop_duplicates,
)
from workbench.curate._funnel import FilterStep
from workbench.curate._registry import (
    NEAR_DUPLICATES_STEP,
    FilterContext,
    run_filter_steps,
)
from workbench.data._dataset import ID_COLUMN, PROTECTED_SPLITS, TEXT_COLUMN, Dataset
from workbench.data._table import encode_labels
from workbench.evaluate._leakage import check_leakage
from workbench.export import _lineage as lineage
from workbench.export._runs import RUNS, PartitionedExport
from workbench.export._table import build_export_frame
from workbench.labeling._dask import DaskLFApplier
from workbench.labeling._engines import apply_lfs
from workbench.pipeline._config import ConfigError, EngineConfig, PipelineConfig
from workbench.pipeline._stages import (
    Inputs,
    PipelineError,
    StageResult,
    TrainingSet,
    _class_counts,
    _guard,
    _with_class_counts,
    end_model_stage,
    evaluate_stage,
    export_stage,
    label_model_stage,
    load_inputs,
)

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

#: The pool's gold label column inside a partition: never exported, never trained on.
_GOLD = "_gold"
#: The folder, beside the runs, that the workers write the export's parts into before it moves into a run.
_PARTS = ".dask-parts-"


@contextmanager
def cluster_client(engine: EngineConfig) -> Iterator[Client]:
    """A client of the cluster at ``engine.scheduler``, or of a ``LocalCluster`` started (and shut down) here."""
    from distributed import Client, LocalCluster

    if engine.scheduler is not None:
        with Client(engine.scheduler, set_as_default=False) as client:  # closes the connection, not the cluster
            yield client
        return
    # One thread per worker: LFs are Python that holds the GIL. The dashboard on a free loopback port.
    with LocalCluster(n_workers=engine.n_workers, threads_per_worker=1, processes=engine.processes,
                      memory_limit=engine.memory_limit if engine.memory_limit is not None else "auto",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster, set_as_default=False) as client:
        yield client


# --------------------------------------------------------------------------- load data


@dataclass(frozen=True)
class DaskInputs:
    """The small splits and LFs (as on the local engine) and the pool as a Dask DataFrame."""

    inputs: Inputs
    pool: dd.DataFrame


def _pool_partition(df: pd.DataFrame, id_column: str, text_column: str, label_column: str | None,
                    columns: tuple[str, ...], class_names: list[str]) -> pd.DataFrame:
    """One partition of the pool as ``load_table`` gives the local engine the pool: string ids, text
    (an empty cell is ``""``), the exported columns, and the gold label apart."""
    ids = df[id_column]
    if ids.isna().any():
        raise ConfigError("data.train.id_column", f"id column {id_column!r} has missing ids")
    out = pd.DataFrame({ID_COLUMN: ids.astype(str).to_numpy(),
                        TEXT_COLUMN: df[text_column].astype("string").fillna("").astype(str).to_numpy()})
    for column in columns:
        out[column] = df[column].to_numpy()
    if label_column is not None:
        out[_GOLD] = encode_labels(df[label_column], class_names, where=f"data.train: label column {label_column!r}")[0]
    return out


def load_dask_inputs(config: PipelineConfig) -> StageResult[DaskInputs]:
    """Load the labeled splits and the LFs as the local engine does, and open the pool's Parquet files."""
    import dask.dataframe as dd

    spec = config.data.tables["train"]
    small = dataclasses.replace(config, data=dataclasses.replace(
        config.data, tables={s: t for s, t in config.data.tables.items() if s != "train"}))
    loaded = load_inputs(small)
    ds = loaded.artifact.dataset
    files = [str(f) for f in spec.files]
    raw = dd.read_parquet(files)
    missing = [c for c in config.export.columns if c not in raw.columns]
    if missing:
        gold = " (the pool's gold labels are never exported)" if spec.label_column is not None else ""
        raise ConfigError("export.columns", f"{missing} are not columns of the pool{gold}; "
                                            f"columns are {[str(c) for c in raw.columns]}")
    for key in ("id_column", "text_column", "label_column"):
        column = getattr(spec, key)
        if column is not None and column not in raw.columns:
            raise ConfigError(f"data.train.{key}", f"{column!r} is not a column of every pool file")
    needed = list(dict.fromkeys(c for c in (spec.id_column, spec.text_column, spec.label_column, *config.export.columns)
                                if c is not None))
    meta = _pool_partition(raw._meta[needed], spec.id_column, spec.text_column, spec.label_column,
                           config.export.columns, ds.class_names)
    pool = raw[needed].map_partitions(_pool_partition, spec.id_column, spec.text_column, spec.label_column,
                                      config.export.columns, ds.class_names, meta=meta)
    # The pool is recorded by its files: hashing its rows would cost a pass over them.
    records = [{"split": "train", "path": f, "sha256": lineage.file_sha256(Path(f)), "bytes": Path(f).stat().st_size}
               for f in files]
    record = dict(loaded.record)
    record["inputs"] = {**record["inputs"], "files": [*records, *record["inputs"]["files"]],
                        "splits": {"train": {"partitions": int(pool.npartitions),
                                             "sha256": lineage.json_sha256([r["sha256"] for r in records])},
                                   **record["inputs"]["splits"]}}
    inputs, splits = record["inputs"]["files"], record["inputs"]["splits"]
    steps = {**loaded.steps, "inputs": lineage.step_record(
        lineage.json_sha256([inputs, splits]), files={f["path"]: f["sha256"] for f in inputs},
        splits={s: r.get("rows", r.get("partitions")) for s, r in splits.items()})}
    return StageResult(DaskInputs(loaded.artifact, pool), record, steps)


# --------------------------------------------------------------------------- apply LFs


def apply_dask_stage(ds: Dataset, pool: dd.DataFrame, lfs: list, lf_names: list[str], client: Client,
                     progress_bar: bool | None = None) -> StageResult[tuple[dict, list[int]]]:
    """``L`` of every split: the labeled ones here, the pool on the cluster; and the pool's partition sizes."""
    L = {s: apply_lfs(df, lfs, cardinality=ds.cardinality, progress_bar=False) for s, df in ds.splits.items()
         if s in ("seed", "dev", "test", "canary")}
    applier = DaskLFApplier(lfs, cardinality=ds.cardinality, client=client)
    L["train"] = applier.apply(pool, progress_bar=progress_bar)
    voted = L["train"] != ABSTAIN
    steps = {"apply": lineage.step_record(
        lineage.array_sha256(*(L[s] for s in sorted(L))),
        train_columns={n: lineage.array_sha256(L["train"][:, j])[:16] for j, n in enumerate(lf_names)},
        coverage={n: round(float(voted[:, j].mean()), 6) for j, n in enumerate(lf_names)},
    )}
    return StageResult((L, applier.partition_rows_), steps=steps)


# --------------------------------------------------------------------------- filter, leakage and the export's parts


@dataclass(frozen=True)
class _PartSettings:
    """What every partition's task needs besides its own rows (sent to the workers once)."""

    config: PipelineConfig
    class_names: list[str]
    lf_names: list[str]
    source: str
    protected: dict
    protected_ids: frozenset
    parts: str


@dataclass
class _PartOutcome:
    funnel: dict
    leakage: dict
    method: str
    rows: int
    table_sha256: str | None
    columns: list[str]
    training: pd.DataFrame
    gold: pd.Series | None


def _check_ids(pool: pd.DataFrame, settings: _PartSettings) -> None:
    clash = pool[ID_COLUMN][pool[ID_COLUMN].isin(settings.protected_ids)]
    if len(clash):
        raise ConfigError("data", f"{len(clash)} pool id(s) are also ids of a protected split (first: "
                                  f"{clash.iloc[:5].tolist()}); ids must be unique across all splits")


def _context(pool: pd.DataFrame, L: np.ndarray, proba: np.ndarray, rows: np.ndarray | None,
             settings: _PartSettings) -> FilterContext:
    if rows is not None:
        pool, L, proba = pool.iloc[rows], L[rows], proba[rows]
    return FilterContext(pool, proba, L=L, class_names=settings.class_names, progress_bar=False,
                         protected=settings.protected)


@dataclass
class _BeforeDedupe:
    """A partition's rows that reach the near-duplicate step, and what the step needs of them here."""

    funnel: dict
    rows: np.ndarray
    ids: np.ndarray
    text_key: np.ndarray
    priority: np.ndarray


# Two keys of pandas' SipHash: 128 bits tell normalised texts apart (a collision has probability ~2**-128).
_HASH_KEYS = ("workbench-dedupe", "near-duplicates.")


def _filter_before_dedupe(pool: pd.DataFrame, L: np.ndarray, proba: np.ndarray, labels: np.ndarray, steps: list,
                          settings: _PartSettings) -> _BeforeDedupe:
    """Task: the per-row steps before ``near_duplicates``; the kept rows' ids, text keys and confidence."""
    _check_ids(pool, settings)
    context = _context(pool, L, proba, None, settings)
    funnel = run_filter_steps(context, steps)
    rows = np.flatnonzero(funnel.kept_mask)
    normalized = normalize_text(context.texts.iloc[rows]).to_numpy(dtype=object)
    key = np.stack([pd.util.hash_array(normalized, hash_key=k) for k in _HASH_KEYS], axis=1)
    record = _with_class_counts(funnel.to_dict(), funnel, labels, settings.class_names)
    return _BeforeDedupe(record, rows, context.ids[rows], key, proba[rows].max(axis=1))


def _band_rows(pool: pd.DataFrame, rows: np.ndarray, text: np.ndarray, bands: int,
               band_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Task: the MinHash band keys of the distinct texts first seen in this partition (``text`` numbers them
    pool-wide), and those texts normalised."""
    normalized = normalize_text(pool[TEXT_COLUMN].iloc[rows]).tolist()
    n = len(rows)
    keys = pd.DataFrame({"band": np.repeat(np.arange(bands, dtype=np.int16), n),
                         "key": minhash_band_keys(normalized, bands, band_rows, progress_bar=False)[0].T.ravel(),
                         "text": np.tile(text.astype(np.int64), bands)})
    return keys, pd.DataFrame({"text": text.astype(np.int64), "normalized": pd.Series(normalized, dtype=object)})


def _bucket_candidates(keys: pd.DataFrame) -> pd.DataFrame:
    """Task on a partition of band keys shuffled by (band, key): every bucket's candidate pairs, each
    member with the bucket's first three texts, as :func:`workbench.curate.find_duplicates` pairs them."""
    keys = keys.sort_values(["band", "key", "text"], kind="stable")
    band, key, text = keys["band"].to_numpy(), keys["key"].to_numpy(), keys["text"].to_numpy()
    new = np.ones(len(keys), dtype=bool)
    new[1:] = (band[1:] != band[:-1]) | (key[1:] != key[:-1])
    sizes = np.diff(np.append(np.flatnonzero(new), len(keys)))
    shared = np.repeat(sizes, sizes) > 1
    text = text.astype(np.int64)
    leaders, members = _bucket_pairs(text[shared], sizes[sizes > 1], n_leaders=3,
                                     n_texts=int(text.max()) + 1 if len(text) else 1)
    return pd.DataFrame({"a": leaders.astype(np.int64), "b": members.astype(np.int64)})  # each pair once; the meta's dtype


def _confirm_pairs(pairs: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Task: the candidate pairs that are near duplicates, decided as the local engine decides them (the
    signatures' agreement when far from the threshold, the exact Jaccard of the shingle sets otherwise)."""
    if pairs.empty:
        return pairs[["a", "b"]]
    codes, texts = pd.factorize(pd.concat([pairs["normalized_a"], pairs["normalized_b"]], ignore_index=True))
    texts = texts.tolist()
    left, right = codes[: len(pairs)], codes[len(pairs):]
    signatures = minhash_signatures(texts, progress_bar=False)
    similar, unsure = signature_decision(signature_agreement(signatures, left, right), threshold)
    similar[unsure] = exact_jaccard(texts, left[unsure], right[unsure]) >= threshold - 1e-12
    return pairs.loc[similar, ["a", "b"]]


def _curate_partition(pool: pd.DataFrame, L: np.ndarray, proba: np.ndarray, labels: np.ndarray, index: int,
                      settings: _PartSettings, steps: list, rows: np.ndarray | None = None) -> _PartOutcome:
    """Task: the per-row ``steps`` (on ``rows``, the rows near-duplicate detection kept, if it ran), the
    leakage check and the export part of one partition."""
    config = settings.config
    if rows is None:
        _check_ids(pool, settings)
    context = _context(pool, L, proba, rows, settings)
    funnel = run_filter_steps(context, steps)
    record = _with_class_counts(funnel.to_dict(), funnel, labels if rows is None else labels[rows], settings.class_names)
    rows = np.flatnonzero(funnel.kept_mask) if rows is None else rows[funnel.kept_mask]
    table = build_export_frame(pool.iloc[rows], proba[rows], class_names=settings.class_names, source=settings.source,
                               columns=config.export.columns, L=L[rows], lf_names=settings.lf_names,
                               labels=labels[rows], sample_weight=np.full(len(rows), config.end_model.synthetic_weight))
    cfg = config.leakage
    report = check_leakage(table[[ID_COLUMN, TEXT_COLUMN]], settings.protected, near=cfg.near_duplicates,
                           threshold=cfg.threshold, progress_bar=False)
    keep, leakage = _guard(report, 0, table[ID_COLUMN].astype(str).to_numpy(), "export", "the export table", cfg.export)
    table = table[keep].reset_index(drop=True)
    gold = pool[_GOLD].iloc[rows][keep].set_axis(table[ID_COLUMN]).rename("gold") if _GOLD in pool.columns else None
    sha = None
    if len(table):
        path = Path(settings.parts) / f"part-{index:05d}.parquet"
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path)
        with open(path, "rb") as fh:  # flushed before the run's rename, as write_run does with its own files
            os.fsync(fh.fileno())
        sha = lineage.frame_sha256(table)
    proba_columns = [PROBA_PREFIX + str(c) for c in settings.class_names]
    training = table[[ID_COLUMN, TEXT_COLUMN, "label", *proba_columns, "sample_weight"]]
    return _PartOutcome(record, leakage, report.method, len(table), sha, list(table.columns), training, gold)


def _merge_steps(records: list[list[dict]]) -> list[dict]:
    """One record per filter step from the partitions' (counts added, removed ids in pool order)."""
    steps = []
    for j, first in enumerate(records[0] if records else []):
        parts = [r[j] for r in records]
        removed: dict = {}
        for part in parts:
            for reason, found in part["removed"].items():
                slot = removed.setdefault(reason, {"count": 0, "ids": []})
                slot["count"] += found["count"]
                slot["ids"] += found["ids"]
        params = dict(first["params"])
        if "n_listed" in params:  # exclude()'s count of the ids it was given: each partition was given its own
            params["n_listed"] = sum(p["params"]["n_listed"] for p in parts)
        step = {"step": first["step"], "params": params, "n_in": sum(p["n_in"] for p in parts),
                "n_kept": sum(p["n_kept"] for p in parts), "removed": removed}
        step["n_kept_by_class"] = {name: sum(p["n_kept_by_class"][name] for p in parts) for name in first["n_kept_by_class"]}
        weights = [p["sample_weight"] for p in parts if "sample_weight" in p]
        if weights:
            step["sample_weight"] = {"min": min(w["min"] for w in weights), "max": max(w["max"] for w in weights)}
        steps.append(step)
    return steps


def _merge_leakage(records: list[dict]) -> dict:
    merged = {"rows": sum(r["rows"] for r in records), "policy": records[0]["policy"]}
    for key in ("exact_copies", "near_copies", "removed", "matches"):
        merged[key] = [item for r in records for item in r[key]]
    return merged


@dataclass(frozen=True)
class DaskCurated:
    """What the filter pass left: the rows the end model trains on (here), the export's parts (on disk)."""

    training: TrainingSet
    gold: pd.Series | None
    export: PartitionedExport


def _near_duplicates(client: Client, pool: dd.DataFrame, before: list[_BeforeDedupe],
                     threshold: float) -> tuple[FilterStep, list[np.ndarray]]:
    """The ``near_duplicates`` step over the whole pool, as :func:`workbench.curate.find_duplicates` and
    :func:`workbench.curate.drop_duplicates` run it on one machine; returns the step and, per partition,
    the rows it keeps.

    Distinct texts are numbered here in pool order (from 128-bit hashes of the normalised texts, 16
    bytes a row); each partition computes the MinHash signatures and band keys of the texts first seen
    in it; the keys are shuffled by (band, key) so that every bucket lands whole in one partition,
    which pairs its members with its first three texts; the candidate pairs are joined with their texts
    and confirmed there. Only the confirmed pairs come back, to be clustered here.
    """
    import dask
    import dask.dataframe as dd

    ids = np.concatenate([b.ids for b in before])
    priority = np.concatenate([b.priority for b in before])
    key = np.concatenate([b.text_key for b in before]) if ids.size else np.empty((0, 2), np.uint64)
    # group numbers in order of first appearance: the local engine's pd.factorize of the normalised texts
    text = pd.DataFrame(key).groupby([0, 1], sort=False).ngroup().to_numpy()
    n_texts = int(text.max()) + 1 if len(text) else 0
    exact_group = _first_position(text)
    params = {"threshold": threshold, "shingle_size": SHINGLE_SIZE, "num_perm": NUM_PERM, "random_state": 1,
              "lsh_weights": list(LSH_WEIGHTS)}
    cluster = exact_group.copy()
    if n_texts >= 2:
        bands, band_rows = lsh_bands(threshold, NUM_PERM, LSH_WEIGHTS)
        first = np.zeros(len(text), dtype=bool)
        first[np.unique(text, return_index=True)[1]] = True
        offsets = np.concatenate([[0], np.cumsum([len(b.rows) for b in before])]).astype(int)
        task = dask.delayed(_band_rows, pure=False, nout=2)
        parts = [task(part, b.rows[first[lo:hi]], text[lo:hi][first[lo:hi]], bands, band_rows)
                 for part, b, lo, hi in zip(pool.to_delayed(), before, offsets[:-1], offsets[1:])]
        keys = dd.from_delayed([p[0] for p in parts], meta={"band": np.int16, "key": np.uint64, "text": np.int64},
                               verify_meta=False)
        texts = dd.from_delayed([p[1] for p in parts], meta={"text": np.int64, "normalized": object}, verify_meta=False)
        candidates = keys.shuffle(on=["band", "key"]).map_partitions(
            _bucket_candidates, meta={"a": np.int64, "b": np.int64}).drop_duplicates()
        with_texts = (candidates.merge(texts.rename(columns={"text": "a", "normalized": "normalized_a"}), on="a")
                      .merge(texts.rename(columns={"text": "b", "normalized": "normalized_b"}), on="b"))
        confirmed = with_texts.map_partitions(_confirm_pairs, threshold, meta={"a": np.int64, "b": np.int64})
        links = client.compute(confirmed).result()
        graph = coo_matrix((np.ones(len(links)), (links["a"].to_numpy(), links["b"].to_numpy())),
                           shape=(n_texts, n_texts))
        _, component = connected_components(graph, directed=False)
        cluster = _first_position(component[text])
        params["lsh_bands"], params["lsh_rows"] = bands, band_rows
    # the normalised texts stay on the cluster: drop_duplicates reads the clusters' ids and groups only
    clusters = DuplicateClusters(ids, cluster, exact_group, normalized=None, params=params)
    step = dataclasses.replace(drop_duplicates(clusters, ids=ids, priority=priority), name=NEAR_DUPLICATES_STEP)
    kept = step.kept
    offsets = np.concatenate([[0], np.cumsum([len(b.rows) for b in before])]).astype(int)
    return step, [b.rows[kept[lo:hi]] for b, lo, hi in zip(before, offsets[:-1], offsets[1:])]


def _gathered(client: Client, futures: list, desc: str, show: bool) -> list:
    from distributed import as_completed

    for _ in tqdm(as_completed(futures, loop=client.loop), total=len(futures), desc=desc, disable=not show, leave=False):
        pass
    return client.gather(futures)


def filter_dask_stage(config: PipelineConfig, ds: Dataset, pool: dd.DataFrame, L_train: np.ndarray,
                      partition_rows: list[int], generated: Any, lf_names: list[str], client: Client, parts: Path,
                      progress_bar: bool | None = None) -> StageResult[DaskCurated]:
    """Filter every partition, check its curated rows for leakage and write its export part into ``parts``;
    then check the seed split here. Records the funnel and the leakage check as the local engine does.

    With a ``near_duplicates`` step, the steps before it run in a first pass over the partitions, the
    step itself over the whole pool (:func:`_near_duplicates`), and the steps after it in the last pass.
    """
    import dask

    protected = {s: ds[s] for s in PROTECTED_SPLITS if s in ds.splits}
    settings = _PartSettings(config, list(ds.class_names), list(lf_names), generated.source, protected,
                             frozenset(str(i) for df in ds.splits.values() for i in df[ID_COLUMN]), str(parts))
    remote = client.scatter(settings, broadcast=True, hash=False)
    offsets = np.concatenate([[0], np.cumsum(partition_rows)]).astype(int)
    blocks = [slice(a, b) for a, b in zip(offsets[:-1], offsets[1:])]
    # Each partition's block of the label model's output, sent once to the cluster (not through the graph).
    L_parts = client.scatter([L_train[b] for b in blocks], hash=False)
    proba_parts = client.scatter([generated.proba[b] for b in blocks], hash=False)
    label_parts = client.scatter([np.asarray(generated.labels)[b] for b in blocks], hash=False)
    show = progress_bar if progress_bar is not None else len(L_train) >= 50_000
    steps = [(f.step, f.params) for f in config.filters]
    at = next((i for i, (name, _) in enumerate(steps) if name == NEAR_DUPLICATES_STEP), None)

    kept_rows: list = [None] * len(blocks)
    steps_before, dedupe = [], None
    if at is not None:
        task = dask.delayed(_filter_before_dedupe, pure=False)
        before = _gathered(client, client.compute([task(part, L_parts[i], proba_parts[i], label_parts[i], steps[:at], remote)
                                                   for i, part in enumerate(pool.to_delayed())]),
                           "Filtering (Dask)", show)
        steps_before = [b.funnel["steps"] for b in before]
        dedupe, kept_rows = _near_duplicates(client, pool, before, steps[at][1]["threshold"])
        steps = steps[at + 1:]
    task = dask.delayed(_curate_partition, pure=False)
    outcomes: list[_PartOutcome] = _gathered(client, client.compute(
        [task(part, L_parts[i], proba_parts[i], label_parts[i], i, remote, steps, kept_rows[i])
         for i, part in enumerate(pool.to_delayed())]), "Filtering (Dask)", show)

    n_pool = int(offsets[-1])
    labels = np.asarray(generated.labels)

    deduped = []
    if dedupe is not None:  # the rows it kept, by partition: positions in each partition's block of the pool
        deduped = [{**dedupe.to_dict(), "n_kept_by_class": _class_counts(np.concatenate(
            [labels[b][r] for b, r in zip(blocks, kept_rows)]), ds.class_names)}]
    funnel = {"n_pool": n_pool, "n_kept": 0,
              "steps": [*_merge_steps(steps_before), *deduped, *_merge_steps([o.funnel["steps"] for o in outcomes])],
              "n_pool_by_class": _class_counts(labels, ds.class_names)}
    funnel["n_kept"] = funnel["steps"][-1]["n_kept"] if funnel["steps"] else n_pool
    n_kept = sum(o.rows for o in outcomes)
    if not funnel["n_kept"]:
        raise PipelineError(f"the filters removed all {funnel['n_pool']} pool rows; funnel: "
                            + ", ".join(f"{s['step']} kept {s['n_kept']}" for s in funnel["steps"]))
    if not n_kept:
        raise PipelineError(f"the leakage check removed all {funnel['n_kept']} rows of the export table")
    funnel["human_review_rows_exempt"] = 0
    training = TrainingSet(pd.concat([o.training for o in outcomes], ignore_index=True))
    golds = [o.gold for o in outcomes if o.gold is not None]
    gold = pd.concat(golds) if golds else None

    cfg = config.leakage
    leakage = {"method": outcomes[0].method, "protected_sizes": {s: len(df) for s, df in protected.items()},
               "export": _merge_leakage([o.leakage for o in outcomes]), "seed": None}
    checked_at = pd.Timestamp.now("UTC").isoformat()
    if config.end_model.mix_seed and "seed" in ds.splits:
        seed = ds["seed"]
        report = check_leakage(seed[[ID_COLUMN, TEXT_COLUMN]], protected, near=cfg.near_duplicates,
                               threshold=cfg.threshold, progress_bar=False)
        keep, leakage["seed"] = _guard(report, 0, seed[ID_COLUMN].astype(str).to_numpy(), "seed", "the seed split",
                                       cfg.seed)
        checked_at = report.checked_at
        training = dataclasses.replace(training, seed=seed[keep], seed_labels=ds.gold("seed")[keep])

    columns = next(o.columns for o in outcomes if o.rows)
    export = PartitionedExport(parts, n_kept, columns, lineage.json_sha256([o.table_sha256 for o in outcomes if o.rows]))
    steps = {
        "filter": lineage.step_record(lineage.json_sha256(funnel), steps={
            f"{i}:{s['step']}": {"n_in": s["n_in"], "n_kept": s["n_kept"]} for i, s in enumerate(funnel["steps"])}),
        "leakage": lineage.step_record(lineage.json_sha256(leakage), method=leakage["method"],
                                       removed={p: len(r["removed"]) for p, r in leakage.items()
                                                if p in ("export", "seed") and r is not None}),
    }
    thresholds = {f"{f.step}.{p}": v for f in config.filters for p, v in f.params.items()}
    record = {"funnel": funnel, "thresholds": thresholds,
              "evaluation": {"leakage": {**leakage, "checked_at": checked_at}}}
    return StageResult(DaskCurated(training, gold, export), record, steps)


# --------------------------------------------------------------------------- the run


def _worker_peaks(client: Client) -> dict[str, int]:
    """Peak resident memory of every worker process so far (bytes; Linux reports kilobytes)."""
    return client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def run_dask(config: PipelineConfig, folder: Path, stages: Any, *, overwrite: bool,
             progress_bar: bool | None) -> tuple[StageResult, TrainingSet, Any, Any]:
    """Run the stages of ``config`` on its Dask engine (``stages`` times them, as :func:`run_pipeline` does).

    Returns the export stage's result, the training set (the curated rows, here), the label model
    and the end model.
    """
    engine = config.engine
    parts = folder / RUNS / f"{_PARTS}{secrets.token_hex(4)}"
    parts.mkdir(parents=True)
    try:
        with cluster_client(engine) as client:
            loaded = stages.run("load data", load_dask_inputs, config)
            inputs, pool = loaded.artifact.inputs, loaded.artifact.pool
            ds, lfs, lf_names = inputs.dataset, inputs.lfs, inputs.lf_names
            votes = stages.run("apply LFs", apply_dask_stage, ds, pool, lfs, lf_names, client, progress_bar=progress_bar)
            L, partition_rows = votes.artifact
            stages.data_loaded(len(L["train"]))
            generated = stages.run("label model", label_model_stage, config.label_model, L, ds.gold("dev"), lfs,
                                   ds.cardinality, y_seed=ds.gold("seed") if "seed" in ds.splits else None)
            curated = stages.run("filter", filter_dask_stage, config, ds, pool, L["train"], partition_rows,
                                 generated.artifact, lf_names, client, parts, progress_bar=progress_bar)
            training = curated.artifact.training
            learned = stages.run("end model", end_model_stage, config, training, ds.class_names)
            # evaluate_stage reads the pool's gold labels of the curated rows, here the only pool rows in memory
            gold = curated.artifact.gold
            ds_eval = Dataset(name=ds.name, splits={"train": training.table[[ID_COLUMN, TEXT_COLUMN]], **ds.splits},
                              class_names=ds.class_names, hidden_labels={} if gold is None else {"train": gold})
            evaluated = stages.run("evaluate", evaluate_stage, config, ds_eval, L, generated.artifact.model,
                                   learned.artifact, training, funnel=curated.record["funnel"])
            engine_record = {"kind": "dask", "scheduler": engine.scheduler or "LocalCluster",
                             "workers": len(client.scheduler_info()["workers"]), "partitions": len(partition_rows),
                             "worker_peak_bytes": _worker_peaks(client)}
        review = StageResult(None, {"review": {"decisions": 0, "store": None}})
        exported = stages.run("export", export_stage, config, folder, curated.artifact.export,
                              (loaded, votes, review, generated, curated, learned, evaluated,
                               StageResult(None, {"engine": engine_record})),
                              label_source=generated.artifact.source, timings=dict(stages.timings),
                              overwrite=overwrite)
    finally:
        shutil.rmtree(parts, ignore_errors=True)  # moved into the run when the export succeeded
    return exported, training, generated.artifact.model, learned.artifact
