"""pyproject.toml and environment.yml must describe the same environment."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names differ from PyPI for a few packages, or split one PyPI extra in two.
CONDA_NAMES = {"dask": {"dask", "distributed"}}
PIP_ONLY = {"torch", "snorkel", "hyperlm"}  # installed from PyPI in the pip: section (CPU torch pinned; hyperlm is not on conda-forge)


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
