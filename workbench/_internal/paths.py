"""Where the workbench reads bundled data and writes its outputs.

The bundled data is package data (``workbench/data/bundled``), so an installed workbench
finds it as a source checkout does; outputs go to ``./out`` of the current folder (or
``$WORKBENCH_OUT``), never next to the installed package.
"""

import os
from pathlib import Path

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "data" / "bundled"


def data_dir() -> Path:
    """Folder holding the bundled data (``$WORKBENCH_DATA`` overrides it)."""
    env = os.environ.get("WORKBENCH_DATA")
    return Path(env) if env else BUNDLED_DIR


def out_dir(*parts: str) -> Path:
    """Folder for exports, reports and stores (``$WORKBENCH_OUT``, else ``out/`` of the current folder), created on demand."""
    env = os.environ.get("WORKBENCH_OUT")
    path = (Path(env) if env else Path.cwd() / "out").joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
