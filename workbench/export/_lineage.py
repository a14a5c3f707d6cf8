"""Lineage manifests: where every exported label came from, and a check that it can be rebuilt.

Beside each export ``<name>.<format>`` sits ``<name>.<format>.manifest.json``, in the run
folder that holds both and the report (:mod:`workbench.export._runs`: one unit, switched into
place by one rename). It records:

``inputs``
    SHA-256 of every input file, and row count and content hash of every split.
``lf_module``, ``lfs``
    The LF module (reference, file, SHA-256, full source) and each LF's name, kind,
    fingerprint, source code and source SHA-256.
``label_model``, ``seeds``, ``thresholds``
    The label model asked for and the one used (and why), its class and settings; every
    random seed; every threshold.
``funnel``
    Rows in and out of each filter step, with the reasons and the removed ids.
``review``
    Human review decisions used: the store, the round read (``through``: last decision id,
    ``as_of``: time of reading), count, reviewers, conflict policy, weight of a human label,
    and exactly the decisions used (``used``: decision id, example id, reviewer, label) with
    their content hash ``decisions_sha256``; ``{"decisions": 0, "store": None}`` without review.
``rounds``
    With ``rounds:``, one record per student round: teacher and end-model accuracy on the
    clean validation split, end-model test accuracy, and whether the end model relabeled the pool.
``evaluation``
    Clean test metrics of the label model and the end model, canary metrics, the canary
    gate's verdict; ``leakage``: the leakage check of every set trained on (the method that ran,
    the copies of protected rows it found, and which it removed).
``export``
    File name (beside the manifest), format, SHA-256 (for Parquet with the embedded manifest
    hash zeroed: :func:`workbench.export.export_file_sha256`), rows and columns.
``steps``
    A content hash per pipeline step (inputs, lfs, apply, review, label_model, generators,
    filter, leakage, rounds, export_table, export_file, evaluation; review, generators and
    rounds only when configured), with the details that explain a difference.
    Hashes never include times, so a re-run can match.
``timings``
    Wall time of each pipeline stage, in seconds.
``environment``, ``created_at``
    Python and package versions, platform; creation time (UTC).

:func:`workbench.export.verify_export` checks an export and its manifest against each other;
:func:`workbench.pipeline.reproduce` re-runs the pipeline from the manifest and says which step
differs, if any.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbench._internal.jsonsafe import json_safe
from workbench.labeling._apply import data_fingerprint
from workbench.labeling._lf import VectorizedLF, lf_fingerprint, lf_name, lf_source

MANIFEST_VERSION = 1
MANIFEST_SUFFIX = ".manifest.json"
#: Distributions whose versions go into every manifest.
PACKAGES = ("synthetic-labels-workbench", "numpy", "pandas", "scipy", "scikit-learn", "snorkel", "torch",
            "pyarrow", "pyyaml")
STEP_ORDER = ("inputs", "lfs", "apply", "review", "label_model", "generators", "filter", "leakage", "rounds",
              "export_table", "export_file", "evaluation")
REQUIRED = ("manifest_version", "created_at", "config", "inputs", "lfs", "label_model", "funnel", "export", "steps")


class LineageError(RuntimeError):
    """A manifest is unreadable, or an export does not match its manifest."""


# --------------------------------------------------------------------------- hashing


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def frame_sha256(df: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's values, index, column names and dtypes (independent of file format)."""
    return data_fingerprint(df)


def array_sha256(*arrays: Any) -> str:
    """SHA-256 of arrays' dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def json_sha256(obj: Any) -> str:
    """SHA-256 of an object's canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------- records


def _lf_kind(lf: Any) -> str:
    if isinstance(lf, VectorizedLF):
        return lf.builder or "vectorized_lf"
    return "labeling_function"


def lf_records(lfs: Sequence[Any]) -> list[dict]:
    """Name, kind, fingerprint, source code and source SHA-256 of each LF, in order.

    Examples
    --------
    >>> from workbench.labeling._lf import keyword_lf
    >>> lf_records([keyword_lf("kw_sub", ["subscribe"], 1)])[0]["source"]
    "keyword_lf(name='kw_sub', keywords=['subscribe'], label=1, text_column='text', case_sensitive=False, whole_word=True)"
    """
    records = []
    for lf in lfs:
        source = lf_source(lf)
        records.append({
            "name": lf_name(lf),
            "kind": _lf_kind(lf),
            "fingerprint": lf_fingerprint(lf),
            "source_sha256": hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest(),
            "source": source,
        })
    return records


def environment() -> dict:
    """Python version, platform and the versions of the packages that shape the labels."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(), "packages": versions}


def manifest_path_for(export_path: str | os.PathLike) -> Path:
    """Where the manifest of ``export_path`` lives: ``<export file name>.manifest.json`` beside it."""
    export_path = Path(export_path)
    return export_path.with_name(export_path.name + MANIFEST_SUFFIX)




def build_manifest(
    *,
    config: dict,
    inputs: dict,
    lf_module: dict,
    lfs: list[dict],
    label_model: dict,
    seeds: dict,
    thresholds: dict,
    funnel: dict,
    review: dict,
    evaluation: dict,
    export: dict,
    steps: dict,
    timings: dict | None = None,
    rounds: list | None = None,
    engine: dict | None = None,
) -> dict:
    """Assemble a manifest (schema version :data:`MANIFEST_VERSION`) from its sections.

    ``funnel`` is ``{"n_pool", "n_kept", "steps": [...]}`` with one record per filter
    step (``step``, ``params``, ``n_in``, ``n_kept``, ``removed``: reason to count and
    ids); ``review`` is ``{"decisions": int, "store": str or None, ...}`` (see the
    module docstring); ``rounds`` the student rounds' records (None without ``rounds:``); ``evaluation``
    holds ``test`` metrics, ``canary`` metrics, ``canary_gate`` (a verdict dict, or None
    when no gate ran) and ``leakage`` (the record of the leakage check); ``timings`` maps
    each stage to its wall time in seconds; ``engine`` (the Dask engine's cluster, partitions and worker
    peak memory) is recorded when given.
    """
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "inputs": inputs,
        "lf_module": lf_module,
        "lfs": lfs,
        "label_model": label_model,
        "seeds": seeds,
        "thresholds": thresholds,
        "funnel": funnel,
        "review": review,
        "rounds": rounds,
        "evaluation": evaluation,
        "export": export,
        "steps": steps,
        "timings": timings or {},
        "environment": environment(),
    }
    if engine is not None:
        manifest["engine"] = engine
    return json_safe(manifest)


def dump_manifest(manifest: dict) -> str:
    """The manifest as indented JSON text (non-ASCII kept readable)."""
    return json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def load_manifest(path: str | os.PathLike) -> dict:
    """Read a manifest and check its schema version and sections."""
    path = Path(path)
    if not path.is_file():
        raise LineageError(f"{path}: no such manifest")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise LineageError(f"{path}: not a JSON manifest ({exc})") from exc
    if not isinstance(manifest, dict):
        raise LineageError(f"{path}: not a manifest (a JSON object is expected)")
    version = manifest.get("manifest_version")
    if version != MANIFEST_VERSION:
        raise LineageError(f"{path}: manifest version {version!r}; this workbench reads version {MANIFEST_VERSION}")
    missing = [k for k in REQUIRED if k not in manifest]
    if missing:
        raise LineageError(f"{path}: manifest lacks section(s) {missing}")
    return manifest


def export_path_of(manifest_path: str | os.PathLike, manifest: dict | None = None) -> Path:
    """The export a manifest describes (its file name is stored relative to the manifest)."""
    manifest_path = Path(manifest_path)
    manifest = manifest if manifest is not None else load_manifest(manifest_path)
    return manifest_path.parent / manifest["export"]["file"]


def step_record(sha256: str, **details: Any) -> dict:
    """A ``steps`` entry: the step's content hash plus the details that explain a difference."""
    return {"sha256": sha256, **json_safe(details)}
