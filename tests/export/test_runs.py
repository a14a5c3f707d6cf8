"""Export runs: export, manifest and report switched in as one unit; killed writers never leave a mismatched pair."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.export import (
    KEEP_RUNS,
    POINTER,
    RUNS,
    LineageError,
    RunFiles,
    check_export,
    embed_manifest_sha256,
    export_file_sha256,
    file_sha256,
    latest_run,
    read_export,
    runs,
    verify_export,
    write_export_file,
    write_run,
)

REPO = Path(__file__).resolve().parents[2]


def table(version: int) -> pd.DataFrame:
    rng = np.random.default_rng(version)
    return pd.DataFrame({"example_id": [f"v{version}-{i}" for i in range(50)], "text": ["t"] * 50,
                         "label": rng.integers(0, 2, 50), "proba_spam": rng.random(50)})


def demo_run(folder: Path, version: int, fmt: str = "parquet", overwrite: bool = True):
    """A run written the way the pipeline's export stage writes one (export, manifest, report)."""
    df = table(version)

    def write(staging: Path, run: Path) -> RunFiles:
        names = RunFiles(f"demo.{fmt}", f"demo.{fmt}.manifest.json", "demo.report.md")
        write_export_file(df, staging / names.export, fmt)
        manifest = {"manifest_version": 1, "created_at": "now", "config": {"version": version}, "inputs": {}, "lfs": [],
                    "label_model": {}, "funnel": {}, "steps": {},
                    "export": {"file": names.export, "format": fmt, "sha256": export_file_sha256(staging / names.export, fmt)}}
        (staging / names.manifest).write_text(json.dumps(manifest))
        if fmt == "parquet":
            embed_manifest_sha256(staging / names.export, file_sha256(staging / names.manifest))
        (staging / names.report).write_text(f"report of version {version}")
        return names

    return write_run(folder, write, overwrite=overwrite)


def current_version(folder: Path) -> int:
    """The version of the current run, after checking its export, manifest and report belong together."""
    run = latest_run(folder)
    manifest = verify_export(folder)
    version = manifest["config"]["version"]
    pd.testing.assert_frame_equal(read_export(folder), table(version), check_dtype=False)
    assert run.report_path.read_text() == f"report of version {version}"
    return version


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_run_is_current_only_once_whole_and_the_previous_one_is_kept(tmp_path, fmt):
    folder = tmp_path / "demo"
    with pytest.raises(LineageError, match="no export here"):
        read_export(folder)
    first = demo_run(folder, 1, fmt, overwrite=False)
    assert current_version(folder) == 1 and first.export_path.parent == folder / RUNS / first.run_id
    with pytest.raises(FileExistsError, match="already holds an export"):
        demo_run(folder, 2, fmt, overwrite=False)
    second = demo_run(folder, 2, fmt)
    assert current_version(folder) == 2
    assert [r.run_id for r in runs(folder)] == [second.run_id, first.run_id]  # the previous run stays readable
    assert verify_export(first.manifest_path)["config"]["version"] == 1
    third = demo_run(folder, 3, fmt)
    assert [r.run_id for r in runs(folder)] == [third.run_id, second.run_id] and KEEP_RUNS == 2
    assert sorted(p.name for p in (folder / RUNS).iterdir()) == sorted([second.run_id, third.run_id])


def test_a_writer_that_fails_changes_nothing(tmp_path):
    folder = tmp_path / "demo"
    demo_run(folder, 1)

    def broken(staging, run):
        (staging / "demo.parquet").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_run(folder, broken, overwrite=True)
    assert current_version(folder) == 1 and len(list((folder / RUNS).iterdir())) == 1


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_an_edited_manifest_or_export_is_detected(tmp_path, fmt):
    folder = tmp_path / "demo"
    run = demo_run(folder, 1, fmt)
    manifest = json.loads(run.manifest_path.read_text())
    manifest["config"]["version"] = 2
    run.manifest_path.write_text(json.dumps(manifest))
    _, manifest_problems, export_problems = check_export(folder)
    carrier = "the Parquet metadata of demo.parquet" if fmt == "parquet" else str(folder / POINTER)
    assert manifest_problems == [f"{run.manifest_path}: SHA-256 {file_sha256(run.manifest_path)[:12]}… differs from the "
                                 f"{run.manifest_sha256[:12]}… recorded in {carrier}; the manifest was edited after export"]
    assert export_problems == []
    with pytest.raises(LineageError, match="the manifest was edited after export"):
        read_export(folder)


# --------------------------------------------------------------------------- killed at every boundary

CHILD = r"""
import os, shutil, signal, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from tests.export.test_runs import demo_run

kill_at, calls = int(sys.argv[2]), [0]

def armed(function):
    def call(*args, **kwargs):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return function(*args, **kwargs)
    return call

# every call that changes the file system (or makes a change durable) is a boundary
for name in ("mkdir", "rename", "replace", "fsync", "unlink", "rmdir"):
    setattr(os, name, armed(getattr(os, name)))
demo_run(Path(sys.argv[1]), 2, sys.argv[3])
print(calls[0])
"""


def run_child(folder: Path, kill_at: int, fmt: str) -> subprocess.CompletedProcess:
    code = CHILD.format(tests=str(REPO))
    return subprocess.run([sys.executable, "-c", code, str(folder), str(kill_at), fmt], capture_output=True, text=True,
                          cwd=REPO)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_writer_killed_at_any_boundary_leaves_the_previous_export_whole_or_the_new_one(tmp_path, fmt):
    template = tmp_path / "template"
    demo_run(template, 1, fmt)
    (template / RUNS / "old").mkdir()  # a run older than the previous one: deleted after a switch
    unkilled = run_child(shutil.copytree(template, tmp_path / "count"), 0, fmt)
    assert unkilled.returncode == 0, unkilled.stderr
    boundaries = int(unkilled.stdout)
    assert boundaries >= 8  # staging mkdir, file flushes, the run's rename, the pointer's flush and rename, clean-up
    seen = []
    for kill_at in range(1, boundaries + 1):
        folder = shutil.copytree(template, tmp_path / f"killed-{kill_at}")
        child = run_child(folder, kill_at, fmt)
        assert child.returncode == -9, (kill_at, child.stderr)  # SIGKILL: no clean-up ran
        seen.append(current_version(folder))  # the previous run whole, or the new one whole
        # the next writer clears what the killed one left and keeps at most KEEP_RUNS runs
        demo_run(folder, 3, fmt)
        assert current_version(folder) == 3
        assert not [p for p in (folder / RUNS).iterdir() if p.name.startswith(".")]
        assert len(list((folder / RUNS).iterdir())) == KEEP_RUNS
    assert seen[0] == 1 and seen[-1] == 2 and seen == sorted(seen)  # old until the switch, new from it on
    assert os.path.exists(template / POINTER)
