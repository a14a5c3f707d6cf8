"""Reproduce an export from its lineage manifest and name the first step that differs."""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.export._lineage import (
    STEP_ORDER,
    LineageError,
    file_sha256,
    load_manifest,
)
from workbench.export._runs import check_export, resolve_manifest
from workbench.labeling._module import LFModuleError, lf_module_path
from workbench.pipeline._config import ConfigError, PipelineConfig, parse_config
from workbench.pipeline._run import run_pipeline


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


def _review_differences(recorded: dict, current: dict) -> list[str]:
    """Which of the decisions a run used changed, appeared or disappeared in the store since."""
    old = {(d[1], d[2]): d for d in recorded.get("used", [])}
    new = {(d[1], d[2]): d for d in current.get("used", [])}
    lines = [f"example {e!r}: {r}'s answer {old[(e, r)][3]} -> {new[(e, r)][3]} (decision {old[(e, r)][0]} -> {new[(e, r)][0]})"
             for e, r in old if (e, r) in new and old[(e, r)][3] != new[(e, r)][3]]
    lines += [f"example {e!r}: {r}'s answer {old[(e, r)][3]} is no longer in the store (decision {old[(e, r)][0]})"
              for e, r in old if (e, r) not in new]
    lines += [f"example {e!r}: {r}'s answer {new[(e, r)][3]} was not used by the export (decision {new[(e, r)][0]})"
              for e, r in new if (e, r) not in old]
    if not lines and recorded.get("store") != current.get("store"):
        lines.append(f"review store {recorded.get('store')} -> {current.get('store')}")
    return lines[:8]


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
        details = ((_lf_differences(recorded["lfs"], rerun["lfs"]) if step == "lfs" else [])
                   or (_review_differences(recorded.get("review") or {}, rerun.get("review") or {}) if step == "review" else [])
                   or _differences(old, new or {}))
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


def _refuse_untrusted_code(manifest_path: Path, manifest_problems: list[str], config: PipelineConfig,
                           recorded: dict) -> StepCheck | None:
    """Refuse to import an LF module that is not the one the export ran: a manifest edited after export
    (it names the code to run), or a module file whose SHA-256 is not the recorded one.

    Returns a failed ``lfs`` check when the module cannot be found at all (nothing would be imported).
    """
    flag = "pass trust_lf_module=True (--trust-lf-module) to run it anyway"
    if manifest_problems:
        raise LineageError(f"refusing to reproduce {manifest_path}: {manifest_problems[0]}. The manifest names the "
                           f"code reproduce imports (lfs: {config.lfs.module}), so an edited one could run anything; "
                           f"{flag}")
    try:
        path = lf_module_path(config.lfs.module)
    except LFModuleError as exc:
        return StepCheck("lfs", False, [f"cannot re-run: lfs: {exc}"])
    actual, expected = file_sha256(path), recorded["lf_module"]["sha256"]
    if actual != expected:
        raise LineageError(f"refusing to import the LF module {path}: its SHA-256 {actual[:12]}… differs from the "
                           f"{expected[:12]}… recorded in {manifest_path.name}, so it is not the code that made the "
                           f"export. Review the change, then {flag} and see which steps differ")
    return None


def reproduce(where: str | os.PathLike, *, lf_module: str | None = None, trust_lf_module: bool = False,
              progress_bar: bool | None = False) -> ReproduceReport:
    """Re-run the pipeline recorded in a manifest and compare every step with the record.

    First the manifest is checked against the hash its export carries (``manifest``) and the
    export on disk against the manifest (``export_on_disk``). Before anything is imported, the LF
    module's SHA-256 is compared with the recorded one: a module that changed since export, or a
    manifest edited after it, is refused unless ``trust_lf_module``. Then the pipeline runs again
    from the manifest's config (the same data files and LF module) into a temporary folder, and
    each step's content hash is compared: inputs, LFs, label matrix, review decisions (the round
    the export read: the same decisions, however the store grew since), label model and generator
    probabilities, filter funnel, leakage check, student rounds, export table, export file and
    evaluation (never timings). Nothing next to the original export is written.

    Parameters
    ----------
    where : path
        A run's manifest, or an export folder (or its ``latest.json``) for its current run.
    lf_module : str, optional
        Use this LF module (path or module name) instead of the recorded one, e.g. after
        moving the project; its hash is checked like the recorded one's.
    trust_lf_module : bool
        Import the LF module even if its hash differs from the recorded one, or the manifest
        cannot be checked (to see which steps an LF edit changes).
    progress_bar : bool or None
        Show the pipeline's progress bar (None: for a large pool).

    Returns
    -------
    ReproduceReport
        ``ok``, ``first_difference`` and a readable ``str``; a step that cannot even run
        (a data file or the LF module is gone) is reported as that step differing.

    Raises
    ------
    LineageError
        The manifest was edited after export, or the LF module is not the recorded one, and
        ``trust_lf_module`` is False.

    Examples
    --------
    >>> report = reproduce("out/youtube_spam")  # doctest: +SKIP
    >>> report.ok, report.summary()  # doctest: +SKIP
    (True, 'reproduced: every step of youtube_spam.parquet.manifest.json matches (12 steps)')
    """
    manifest_path = resolve_manifest(where)
    recorded = load_manifest(manifest_path)
    _, manifest_problems, export_problems = check_export(manifest_path)
    checks = [StepCheck("manifest", not manifest_problems, manifest_problems),
              StepCheck("export_on_disk", not export_problems, export_problems)]

    raw = json.loads(json.dumps(recorded["config"]))
    if lf_module is not None:
        raw["lfs"] = {**raw["lfs"], "module": lf_module}
    with tempfile.TemporaryDirectory(prefix="workbench-reproduce-") as tmp:
        raw["output"] = {**raw["output"], "dir": tmp, "overwrite": True}
        try:
            config = parse_config(raw, base_dir=manifest_path.parent, source=manifest_path)
            missing = None if trust_lf_module else _refuse_untrusted_code(manifest_path, manifest_problems, config,
                                                                          recorded)
            if missing is not None:
                return ReproduceReport(manifest_path, checks + [missing])
            result = run_pipeline(config, progress_bar=progress_bar, echo=None)
        except ConfigError as exc:
            step = next((s for prefix, s in (("lfs", "lfs"), ("data", "inputs"), ("review", "review")) if exc.key.startswith(prefix)),
                        "config")
            checks.append(StepCheck(step, False, [f"cannot re-run: {exc}"]))
            return ReproduceReport(manifest_path, checks)
        except LineageError:
            raise
        except Exception as exc:  # whatever stops the re-run is the finding, reported with its step unknown
            checks.append(StepCheck("pipeline", False, [f"re-run failed: {type(exc).__name__}: {exc}"]))
            return ReproduceReport(manifest_path, checks)
        step_checks, notes = compare_manifests(recorded, result.manifest)
    return ReproduceReport(manifest_path, checks + step_checks, notes)
