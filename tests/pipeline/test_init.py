"""python -m workbench init: from a raw file to an export and a passing reproduce, with no code written by hand."""

from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from workbench.__main__ import main
from workbench.data import load_dataset
from workbench.export import latest_run, read_table
from workbench.pipeline import init_project, reproduce

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "fixtures"


def _init_run_reproduce(tmp_path, capsys, *init_args):
    project = tmp_path / "project"
    assert main(["init", *init_args, "--project", str(project)]) == 0
    assert "next: python -m workbench run" in capsys.readouterr().out
    assert main(["run", str(project / "config.yaml"), "--quiet"]) == 0
    folders = [p for p in (project / "out").iterdir() if p.is_dir()]
    assert len(folders) == 1  # one export folder (out/<name>/), holding this one run
    run = latest_run(folders[0])
    assert main(["reproduce", str(run.manifest_path), "--quiet"]) == 0
    assert capsys.readouterr().out.count("reproduced: every step") == 1
    return project, read_table(run.export_path), run


@pytest.mark.slow
def test_headerless_tsv_with_string_labels_goes_from_init_to_export_and_reproduce(tmp_path, capsys, monkeypatch):
    project, export, _ = _init_run_reproduce(tmp_path, capsys, str(FIXTURES / "comments_raw"),
                                             "--text-column", "1", "--label-column", "0")
    ds = load_dataset(project / "dataset")
    assert ds.class_names == ["ham", "spam"]
    # only id, text and the synthetic label columns: no gold label, no duplicate of the text
    assert [c for c in export.columns if not c.startswith(("proba_", "vote_"))] == [
        "example_id", "text", "label", "label_name", "label_proba", "label_source", "sample_weight"]
    assert set(export["example_id"]) <= set(ds.train["example_id"])
    lfs = (project / "labeling_functions.py").read_text()
    assert "dev precision" in lfs and "dev coverage" in lfs and "keyword_lf(" in lfs
    notebook = nbformat.read(project / "studio.ipynb", as_version=4)
    assert 'load_dataset("dataset")' in notebook.cells[1].source
    # the notebook opens the studio on the saved dataset and the starter LFs
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(project)}}).execute()
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.slow
def test_six_classes_go_the_same_way_with_class_names_in_the_report(tmp_path, capsys):
    project, export, run = _init_run_reproduce(
        tmp_path, capsys, str(FIXTURES / "comments_6class.csv"), "--text-column", "comment", "--label-column", "label",
        "--sizes", "test=0.2,dev=0.3,valid=0.1,canary=0.1,seed=0.05")
    names = ["eminem_fan", "katy_fan", "lmfao_fan", "psy_fan", "shakira_fan", "spam"]
    assert load_dataset(project / "dataset").class_names == names
    # starter bars scaled to six classes: 0.6 and 0.5 (the two-class bars) kept 12 of the 120 covered rows
    config = (project / "config.yaml").read_text()
    assert "threshold: 0.33 " in config and "minimum: 0.33 " in config
    assert len(export) >= 60
    assert [c for c in export.columns if c.startswith("proba_")] == [f"proba_{n}" for n in names]
    report = run.report_path.read_text()
    assert "End model per class on the test set" in report
    assert all(f"| {n} |" in report for n in names)


def test_bad_input_is_named_and_writes_nothing(tmp_path):
    raw = FIXTURES / "comments_raw"
    kwargs = {"header": None, "names": ["label", "text"]}
    with pytest.raises(ValueError, match="label_column='y' is not a column"):
        init_project(raw, tmp_path / "p", text_column="text", label_column="y", **kwargs)
    with pytest.raises(ValueError, match="a label column is needed"):
        init_project(raw, tmp_path / "p", text_column="text", label_column=None, **kwargs)
    with pytest.raises(FileNotFoundError, match="comments_rawx: no such file"):  # the path first, whatever else is missing
        init_project(FIXTURES / "comments_rawx", tmp_path / "p", text_column="text", label_column=None, **kwargs)
    one = tmp_path / "one.csv"
    pd.DataFrame({"text": [f"t {i}" for i in range(50)], "y": ["ham"] * 50}).to_csv(one, index=False)
    with pytest.raises(ValueError, match=r"one class only \('ham'\)"):
        init_project(one, tmp_path / "p", text_column="text", label_column="y")
    few = tmp_path / "few.csv"
    pd.DataFrame({"text": [f"t {i}" for i in range(60)], "y": ["a", "b"] * 20 + [""] * 20}).to_csv(few, index=False)
    with pytest.raises(ValueError, match="too few labeled rows: 40 in few.csv"):
        init_project(few, tmp_path / "p", text_column="text", label_column="y")
    with pytest.raises(ValueError, match="split 'dev' needs|has 20 labeled rows but the splits"):
        init_project(few, tmp_path / "p", text_column="text", label_column="y", sizes={"dev": 30, "test": 20})
    assert not (tmp_path / "p").exists()


def test_cli_init_errors_are_one_line(tmp_path, capsys):
    assert main(["init", str(FIXTURES / "comments_raw"), "--text-column", "9", "--label-column", "0",
                 "--project", str(tmp_path / "p")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ValueError:") and "text_column='9' is not a column" in err
