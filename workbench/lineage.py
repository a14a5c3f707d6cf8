"""Lineage manifests: where every exported label came from, and a check that it can be rebuilt.

Beside each export ``<name>.<format>`` sits ``<name>.<format>.manifest.json`` (written
atomically, together with the export). It records:

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
    Human review decisions used: count and the store they came from.
``evaluation``
    Clean test metrics of the label model and the end model, canary metrics, the canary
    gate's verdict; ``leakage``: the protected-split check the export passed.
``export``
    File name (beside the manifest), format, SHA-256, rows and columns.
``steps``
    A content hash per pipeline step (inputs, lfs, apply, label_model, filter,
    export_table, export_file, evaluation), with the details that explain a difference.
``environment``, ``created_at``
    Python and package versions, platform; creation time (UTC).

:func:`verify_export` checks an export against its manifest; :func:`reproduce` re-runs the
pipeline from the manifest and says which step differs, if any.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import platform
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbench.apply import data_fingerprint
from workbench.lf import VectorizedLF, lf_fingerprint, lf_name, lf_source

MANIFEST_VERSION = 1
MANIFEST_SUFFIX = ".manifest.json"
#: Distributions whose versions go into every manifest.
PACKAGES = ("synthetic-labels-workbench", "numpy", "pandas", "scipy", "scikit-learn", "snorkel", "torch",
            "pyarrow", "pyyaml")
STEP_ORDER = ("inputs", "lfs", "apply", "label_model", "filter", "export_table", "export_file", "evaluation")
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
    >>> from workbench.lf import keyword_lf
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


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


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
    leakage: dict,
    export: dict,
    steps: dict,
) -> dict:
    """Assemble a manifest (schema version :data:`MANIFEST_VERSION`) from its sections.

    ``funnel`` is ``{"n_pool", "n_kept", "steps": [...]}`` with one record per filter
    step (``step``, ``params``, ``n_in``, ``n_kept``, ``removed``: reason to count and
    ids); ``review`` is ``{"decisions": int, "store": str or None}``; ``evaluation``
    holds ``test`` metrics, ``canary`` metrics and ``canary_gate`` (a verdict dict, or
    None when no gate ran); ``leakage`` is the record of the protected-split check.
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
        "evaluation": evaluation,
        "leakage": leakage,
        "export": export,
        "steps": steps,
        "environment": environment(),
    }
    return _json_safe(manifest)


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


def verify_export(manifest_path: str | os.PathLike) -> dict:
    """Check that the export beside a manifest is the one it describes (SHA-256 of the file).

    Returns the manifest; raises :class:`LineageError` naming the file if it is missing or
    its hash differs.
    """
    manifest = load_manifest(manifest_path)
    export = export_path_of(manifest_path, manifest)
    if not export.is_file():
        raise LineageError(f"{export}: the export named by {manifest_path} is missing")
    actual = file_sha256(export)
    if actual != manifest["export"]["sha256"]:
        raise LineageError(f"{export}: SHA-256 {actual[:12]}… differs from the manifest's "
                           f"{manifest['export']['sha256'][:12]}…; the file changed after export")
    return manifest


# --------------------------------------------------------------------------- reproduce


@dataclass
class StepCheck:
    """One step of a reproduction: does its hash match the manifest's, and if not, what differs."""

    step: str
    ok: bool
    details: list[str] = field(default_factory=list)


@dataclass
class ReproduceReport:
    """What :func:`reproduce` found. ``ok`` is True when every step matched.

    ``first_difference`` names the earliest step that differs: later steps usually
    differ only because it did.
    """

    manifest_path: Path
    checks: list[StepCheck]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def first_difference(self) -> StepCheck | None:
        return next((c for c in self.checks if not c.ok), None)

    def summary(self) -> str:
        """One line: passed, or the first step that differs and why."""
        first = self.first_difference
        if first is None:
            return f"reproduced: every step of {self.manifest_path.name} matches ({len(self.checks)} steps)"
        later = [c.step for c in self.checks if not c.ok and c is not first]
        then = f"; later steps differ too: {', '.join(later)}" if later else ""
        why = f": {first.details[0]}" if first.details else ""
        return f"NOT reproduced: step {first.step!r} differs{why}{then}"

    def __str__(self) -> str:
        lines = [self.summary()]
        for c in self.checks:
            lines.append(f"  {'ok  ' if c.ok else 'DIFF'} {c.step}")
            lines.extend(f"         {d}" for d in c.details)
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _differences(expected: Any, actual: Any, path: str = "", limit: int = 8) -> list[str]:
    """Readable ``path: expected -> actual`` lines for the leaves that differ."""
    out: list[str] = []

    def walk(a: Any, b: Any, p: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in list(dict.fromkeys([*a, *b])):
                if k == "sha256":
                    continue
                if k not in b:
                    out.append(f"{p}{k}: missing now (was {_short(a[k])})")
                elif k not in a:
                    out.append(f"{p}{k}: new (now {_short(b[k])})")
                else:
                    walk(a[k], b[k], f"{p}{k}.")
        elif a != b:
            out.append(f"{p.rstrip('.')}: {_short(a)} -> {_short(b)}")

    walk(expected, actual, path)
    return out


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _lf_differences(recorded: list[dict], current: list[dict]) -> list[str]:
    """Which LFs were added, removed or changed, with a diff of each changed source."""
    old = {r["name"]: r for r in recorded}
    new = {r["name"]: r for r in current}
    lines = [f"LF {n!r} was removed" for n in old if n not in new]
    lines += [f"LF {n!r} is new" for n in new if n not in old]
    for name in (n for n in old if n in new):
        if old[name]["fingerprint"] != new[name]["fingerprint"]:
            lines.append(f"LF {name!r} changed (fingerprint {old[name]['fingerprint']} -> {new[name]['fingerprint']})")
            diff = difflib.unified_diff(old[name]["source"].splitlines(), new[name]["source"].splitlines(),
                                        "recorded", "current", lineterm="", n=0)
            lines += [f"    {d}" for d in list(diff)[2:12]]
    if not lines and [r["name"] for r in recorded] != [r["name"] for r in current]:
        lines.append(f"LF order changed: {[r['name'] for r in recorded]} -> {[r['name'] for r in current]}")
    return lines


def compare_manifests(recorded: dict, rerun: dict) -> tuple[list[StepCheck], list[str]]:
    """Step-by-step comparison of a recorded manifest and a re-run's; also returns notes."""
    checks = []
    for step in STEP_ORDER:
        old, new = recorded["steps"].get(step), rerun["steps"].get(step)
        if old is None:
            continue
        if new is not None and old.get("sha256") == new.get("sha256"):
            checks.append(StepCheck(step, True))
            continue
        details = (_lf_differences(recorded["lfs"], rerun["lfs"]) if step == "lfs" else []) or _differences(old, new or {})
        checks.append(StepCheck(step, False, details or ["content hash differs"]))
    notes = []
    if recorded.get("lf_module", {}).get("sha256") != rerun.get("lf_module", {}).get("sha256"):
        notes.append(f"the LF module file changed since export ({recorded.get('lf_module', {}).get('path')})")
    old_env, new_env = recorded.get("environment", {}), rerun.get("environment", {})
    changed = _differences(old_env.get("packages", {}), new_env.get("packages", {}))
    if old_env.get("python") != new_env.get("python"):
        changed.insert(0, f"python: {old_env.get('python')} -> {new_env.get('python')}")
    if changed:
        notes.append("environment differs from the export's: " + "; ".join(changed))
    return checks, notes


def reproduce(manifest_path: str | os.PathLike, *, lf_module: str | None = None, progress: bool = False) -> ReproduceReport:
    """Re-run the pipeline recorded in a manifest and compare every step with the record.

    The export on disk is first checked against the manifest (``export_on_disk``). Then
    the pipeline runs again from the manifest's config (the same data files and the LF
    module they name, as it is now) into a temporary folder, and each step's content
    hash is compared: inputs, LFs, label matrix, label model probabilities, filter
    funnel, export table, export file and evaluation. Nothing next to the original
    export is written.

    Parameters
    ----------
    manifest_path : path
    lf_module : str, optional
        Use this LF module (path or module name) instead of the recorded one, e.g. after
        moving the project.
    progress : bool
        Show the pipeline's progress bar.

    Returns
    -------
    ReproduceReport
        ``ok``, ``first_difference`` and a readable ``str``; a step that cannot even run
        (a data file or the LF module is gone) is reported as that step differing.

    Examples
    --------
    >>> report = reproduce("out/youtube_spam/youtube_spam.parquet.manifest.json")  # doctest: +SKIP
    >>> report.ok, report.summary()  # doctest: +SKIP
    (True, 'reproduced: every step of youtube_spam.parquet.manifest.json matches (9 steps)')
    """
    from workbench.config import ConfigError, parse_config
    from workbench.pipeline import run_pipeline

    manifest_path = Path(manifest_path)
    recorded = load_manifest(manifest_path)
    checks = []
    try:
        verify_export(manifest_path)
        checks.append(StepCheck("export_on_disk", True))
    except LineageError as exc:
        checks.append(StepCheck("export_on_disk", False, [str(exc)]))

    raw = json.loads(json.dumps(recorded["config"]))
    if lf_module is not None:
        raw["lfs"] = {**raw["lfs"], "module": lf_module}
    with tempfile.TemporaryDirectory(prefix="workbench-reproduce-") as tmp:
        raw["output"] = {**raw["output"], "dir": tmp, "overwrite": True}
        try:
            config = parse_config(raw, base_dir=manifest_path.parent, source=manifest_path)
            result = run_pipeline(config, progress=progress, echo=None)
        except ConfigError as exc:
            step = "lfs" if exc.key.startswith("lfs") else "inputs" if exc.key.startswith("data") else "config"
            checks.append(StepCheck(step, False, [f"cannot re-run: {exc}"]))
            return ReproduceReport(manifest_path, checks)
        except Exception as exc:  # whatever stops the re-run is the finding, reported with its step unknown
            checks.append(StepCheck("pipeline", False, [f"re-run failed: {type(exc).__name__}: {exc}"]))
            return ReproduceReport(manifest_path, checks)
        step_checks, notes = compare_manifests(recorded, result.manifest)
    return ReproduceReport(manifest_path, checks + step_checks, notes)


def step_record(sha256: str, **details: Any) -> dict:
    """A ``steps`` entry: the step's content hash plus the details that explain a difference."""
    return {"sha256": sha256, **_json_safe(details)}
