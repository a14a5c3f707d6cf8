"""Every notebook runs headless, top to bottom, and is committed without outputs; so do the exercise solutions."""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
APPS = sorted((ROOT / "apps").glob("*.ipynb"))  # executed by their browser tests


def test_there_are_notebooks():
    assert any(p.name.startswith("00_") for p in NOTEBOOKS)


def test_every_notebook_with_exercises_has_solutions():
    with_exercises = {p.stem for p in NOTEBOOKS if "## Exercises" in p.read_text()}
    assert with_exercises, "no notebook has exercises"
    assert with_exercises <= {p.stem.removesuffix("_solutions") for p in SOLUTIONS}


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS + APPS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


def execute(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    return nb


def printed(nb: nbformat.NotebookNode) -> str:
    return "\n".join(str(o.get("text") or o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_OUT", str(tmp_path))
    execute(path)


# The learner's own LFs, as notebook 01 saves them: the bundled set without kw_my, plus one new LF.
LEARNER_LFS = '''
from workbench.data.youtube_lfs import YOUTUBE_LFS
from workbench.labeling import keyword_lf

LFS = [lf for lf in YOUTUBE_LFS if lf.name != "kw_my"] + [keyword_lf("kw_learner_visit", ["visit", "click"], 1)]
'''


@pytest.mark.slow
@pytest.mark.parametrize("name", ["02_thresholds_and_filter.ipynb", "07_human_review.ipynb", "08_export.ipynb"])
def test_later_notebooks_use_the_lfs_saved_in_01(name, tmp_path, monkeypatch):
    from workbench.labeling import SAVED_LFS_FILE

    monkeypatch.setenv("WORKBENCH_OUT", str(tmp_path))
    saved = tmp_path / SAVED_LFS_FILE
    saved.write_text(LEARNER_LFS)
    text = printed(execute(ROOT / "notebooks" / name))
    assert f"LF set: your saved LFs from notebook 01, 11 LFs from {saved}" in text
    assert "the bundled YouTube LFs" not in text
    if name == "08_export.ipynb":  # the pipeline ran on them: its manifest lists the learner's new LF
        assert f"with LFs from {saved}" in text and "kw_learner_visit" in text
