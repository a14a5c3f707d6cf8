"""A project from one file: ``python -m workbench init data.csv --text-column ... --label-column ...``.

:func:`init_project` loads the file (:func:`workbench.data.load_table`), splits it
(:func:`workbench.data.split_dataset`) and writes a project folder::

    PROJECT/dataset/               the splits (Dataset.save): notebooks and the pipeline read the same rows
    PROJECT/labeling_functions.py  starter keyword LFs, precise on dev (precision and coverage in comments)
    PROJECT/config.yaml            the pipeline config: python -m workbench run PROJECT/config.yaml
    PROJECT/studio.ipynb           a notebook opening the LF studio on the dataset and the starter LFs

after which ``python -m workbench run PROJECT/config.yaml`` exports a curated set to ``PROJECT/out``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench._internal.atomic import atomic_files
from workbench.data._dataset import DEFAULT_SPLIT_SIZES, Dataset, split_dataset
from workbench.data._table import check_table_file, load_table
from workbench.labeling._module import lfs_to_code
from workbench.labeling._suggest import KeywordSuggestion, suggest_keyword_lfs

#: The fewest rows a project's dev and test sets may have: below that their numbers mean nothing.
MIN_SPLIT_ROWS = 10
CONFIG_FILE, LF_FILE, NOTEBOOK_FILE, DATASET_FOLDER = "config.yaml", "labeling_functions.py", "studio.ipynb", "dataset"


@dataclass
class Project:
    """What :func:`init_project` wrote, and the starter LFs it suggested."""

    folder: Path
    dataset: Dataset
    suggestions: list[KeywordSuggestion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.folder / CONFIG_FILE

    def summary(self) -> str:
        sizes = ", ".join(f"{split} {len(df)}" for split, df in self.dataset.splits.items())
        lines = [f"project {self.folder}: {sizes} rows; classes {self.dataset.class_names}",
                 f"  {DATASET_FOLDER}/  the splits (labels of the pool hidden: evaluation only)",
                 f"  {LF_FILE}  {len(self.suggestions)} starter keyword LF(s)",
                 f"  {CONFIG_FILE}  the pipeline config",
                 f"  {NOTEBOOK_FILE}  the LF studio on this dataset",
                 *(f"note: {n}" for n in self.notes),
                 f"next: python -m workbench run {self.config_path}"]
        return "\n".join(lines)


def _project_name(path: Path) -> str:
    name = re.sub(r"[^\w.-]+", "_", path.name.split(".")[0]).strip("._") or "project"
    return name


def _config_text(name: str, source: Path, ds: Dataset, suggestions: list[KeywordSuggestion]) -> str:
    k = ds.cardinality
    # Starter bars that mean the same for any number of classes: the confidence threshold a fifth of
    # the way from a tie (1/k) to certainty (0.6 for two classes), the canary's bar twice the macro F1
    # of guessing (about 1/k), at most 0.5. Six classes with 0.6 and 0.5 kept a handful of rows.
    threshold = round(1 / k + 0.2 * (1 - 1 / k), 2)
    canary = ""
    if "canary" in ds.splits:
        canary = ("\ncanary:                          # no export unless the end model passes on the untouched canary set\n"
                  f"  metric: {'f1' if k == 2 else 'f1_macro'}\n"
                  f"  minimum: {min(0.5, round(2 / k, 2))}                   # a starter's bar: raise it as your LFs improve\n")
    seed = "  mix_seed: true                 # train on the soft labels plus the hand-labeled seed split\n" \
        if "seed" in ds.splits else "  mix_seed: false\n"
    return f"""# Made by `python -m workbench init` from {source.name}. Run: python -m workbench run {CONFIG_FILE}
name: {name}

data:
  dataset: {DATASET_FOLDER}               # {', '.join(f'{s} {len(df)}' for s, df in ds.splits.items())}

lfs: {LF_FILE}     # {len(suggestions)} starter keyword LFs; write better ones in {NOTEBOOK_FILE}

label_model:
  kind: auto                     # the candidate that labels dev (and cross-fitted seeds) best, beyond noise
  random_state: 123

filter:
  - uncovered                    # no LF voted: nothing to learn from
  - step: confidence
    threshold: {threshold}                 # a fifth of the way from a tie (1/{k}) to certainty
    # class_thresholds: {{{ds.class_names[-1]}: 0.8}}   # a stricter bar for some classes
  - protected_duplicates         # same text as a dev/valid/test/canary row
  - step: near_duplicates
    threshold: 0.7

leakage:
  near_duplicates: true
  threshold: 0.8
  export: {{exact: refuse, near: remove}}
  seed: {{exact: remove, near: remove}}

end_model:
{seed}{canary}
export:
  columns: []                    # your own columns to export besides id, text and the synthetic labels

output:
  dir: out
  format: parquet
  report: md
"""


def _notebook(ds: Dataset) -> str:
    def cell(kind: str, text: str) -> dict:
        body = {"cell_type": kind, "metadata": {}, "source": text.strip("\n").splitlines(keepends=True)}
        return {**body, "execution_count": None, "outputs": []} if kind == "code" else body

    cells = [
        cell("markdown", f"""
# LF studio: {ds.name}

The dataset in `{DATASET_FOLDER}/` is the one `python -m workbench run {CONFIG_FILE}` reads, so what you measure here is
what the pipeline gets. The pool's gold labels (if the file had any) are hidden: they only measure synthetic labels.
Write labeling functions below the dashboard, then save them over `{LF_FILE}` and run the pipeline.
"""),
        cell("code", f"""
from workbench import Studio, keyword_lf, load_dataset, regex_lf
from workbench.labeling import load_lf_module

ds = load_dataset("{DATASET_FOLDER}")
CLASSES = {{name: k for k, name in enumerate(ds.class_names)}}
studio = Studio(ds, load_lf_module("{LF_FILE}").lfs)
studio
"""),
        cell("code", """
# studio.add(keyword_lf("kw_example", ["example"], CLASSES[ds.class_names[0]]))
"""),
        cell("code", f"""
# When the dashboard looks right: studio.save_lfs("{LF_FILE}"), then python -m workbench run {CONFIG_FILE}
"""),
    ]
    notebook = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                            "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    for i, c in enumerate(notebook["cells"]):
        c["id"] = f"cell-{i}"
    return json.dumps(notebook, indent=1) + "\n"


def init_project(
    path: str | os.PathLike,
    project: str | os.PathLike | None = None,
    *,
    text_column: str,
    label_column: str | None,
    id_column: str | None = None,
    class_names: Sequence[str] | None = None,
    sizes: Mapping[str, float] | None = None,
    group_column: str | None = None,
    time_column: str | None = None,
    overwrite: bool = False,
    **read_options: Any,
) -> Project:
    """Make a project folder from one labeled (or partly labeled) table; see the module docstring.

    ``read_options`` go to :func:`workbench.data.load_table` (``sep``, ``header``, ``names``,
    ``encoding``, ``format``); ``sizes`` and the group/time columns to
    :func:`workbench.data.split_dataset` (default sizes :data:`workbench.data.DEFAULT_SPLIT_SIZES`).

    Raises
    ------
    ValueError
        Naming the problem: no label column, a missing column, one class only, too few labeled
        rows for the splits, a project folder that already holds a project (without ``overwrite``).
    """
    path = check_table_file(path)  # before any other complaint: a mistyped path is the first thing to hear about
    folder = Path(project) if project is not None else Path.cwd() / f"{_project_name(path)}_project"
    if label_column is None:
        raise ValueError("a label column is needed (--label-column): the dev and test sets the pipeline checks "
                         "everything on are your hand-labeled rows; rows without a label go to the pool")
    if (folder / CONFIG_FILE).exists() and not overwrite:
        raise FileExistsError(f"{folder} already holds a project ({CONFIG_FILE}); pass --overwrite to replace it")
    df = load_table(path, text_column, label_column, id_column, class_names=class_names, **read_options)
    sizes = dict(DEFAULT_SPLIT_SIZES if sizes is None else sizes)
    for needed in ("dev", "test"):
        if needed not in sizes:
            raise ValueError(f"sizes must include {needed!r}: the pipeline needs a dev set and a test set")
    ds = split_dataset(df, sizes, name=_project_name(path), group_column=group_column, time_column=time_column)
    small = {s: len(ds[s]) for s in ("dev", "test") if len(ds[s]) < MIN_SPLIT_ROWS}
    if small:
        labeled = int((df["label"] >= 0).sum())
        raise ValueError(f"too few labeled rows: {labeled} in {path.name} give {small} rows, fewer than {MIN_SPLIT_ROWS} "
                         "each; label more rows or pass larger sizes")
    if ds["train"].empty:
        raise ValueError("the splits take every row: nothing is left for the pool to label; ask for smaller splits")
    suggestions = suggest_keyword_lfs(ds["dev"]["text"], ds.gold("dev"), ds.class_names)
    notes = []
    if not suggestions:
        notes.append(f"no keyword is precise enough on dev to suggest; write LFs in {NOTEBOOK_FILE} before running")
    missing = [c for c in ds.class_names if c not in {ds.class_names[s.label] for s in suggestions}]
    if suggestions and missing:
        notes.append(f"no starter LF for class(es) {missing}: write some in {NOTEBOOK_FILE}")
    header = (f"Starter labeling functions for {ds.name}, suggested by `python -m workbench init` from the dev set.\n\n"
              f"Classes: {', '.join(f'{k} = {n}' for k, n in enumerate(ds.class_names))}. Each LF's comment gives its "
              "precision and coverage on dev,\nwhere it was chosen: expect less elsewhere. Improve them in the studio.")
    code = lfs_to_code([s.lf for s in suggestions], header=header,
                       comments={s.lf.name: s.comment(ds.class_names) for s in suggestions})
    ds.save(folder / DATASET_FOLDER, overwrite=overwrite)
    with atomic_files([folder / LF_FILE, folder / CONFIG_FILE, folder / NOTEBOOK_FILE], overwrite=overwrite) as temps:
        temps[0].write_text(code, encoding="utf-8")
        temps[1].write_text(_config_text(ds.name, path, ds, suggestions), encoding="utf-8")
        temps[2].write_text(_notebook(ds), encoding="utf-8")
    return Project(folder, ds, suggestions, notes)
