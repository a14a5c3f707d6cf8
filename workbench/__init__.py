"""Synthetic Labels Workbench: generate, filter, learn from and export labels no human wrote.

The front door holds what a notebook needs; each stage has its own subpackage
(``data``, ``labeling``, ``generate``, ``curate``, ``learn``, ``evaluate``, ``review``,
``export``, ``pipeline``) whose ``__init__`` is its API. ``workbench.curate`` and
``workbench.evaluate`` here are the functions; import their subpackages' other names with
``from workbench.curate import ...`` / ``from workbench.evaluate import ...``.
"""

from workbench._internal.paths import data_dir, out_dir
from workbench._internal.validation import ABSTAIN
from workbench.curate._curate import curate
from workbench.data._dataset import Dataset, load_dataset, load_wrench, load_youtube_spam, split_dataset
from workbench.data._table import load_table
from workbench.evaluate._leakage import check_leakage
from workbench.evaluate._report import evaluate
from workbench.generate._hyper import HyperLabelModel
from workbench.generate._labelmodel import MajorityVote, SnorkelLabelModel
from workbench.generate._select import AutoLabelModel, health_check
from workbench.generate._semisup import DawidSkeneLabelModel
from workbench.generate._weighted import WeightedVote
from workbench.labeling._analysis import lf_summary
from workbench.labeling._engines import apply_lfs
from workbench.labeling._lf import keyword_lf, regex_lf, vectorized_lf
from workbench.pipeline._run import run_pipeline

__all__ = [
    "ABSTAIN",
    "AutoLabelModel",
    "DawidSkeneLabelModel",
    "Dataset",
    "HyperLabelModel",
    "MajorityVote",
    "SnorkelLabelModel",
    "Studio",
    "WeightedVote",
    "apply_lfs",
    "check_leakage",
    "curate",
    "data_dir",
    "evaluate",
    "health_check",
    "keyword_lf",
    "lf_summary",
    "load_dataset",
    "load_table",
    "load_wrench",
    "load_youtube_spam",
    "out_dir",
    "regex_lf",
    "run_pipeline",
    "split_dataset",
    "vectorized_lf",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The studio pulls in ipywidgets and plotly: import it only when someone asks for it.
    if name == "Studio":
        from workbench.ui.studio import Studio

        return Studio
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
