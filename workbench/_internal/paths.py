"""Where the workbench reads bundled data and writes its outputs."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """Folder holding the bundled data (``$WORKBENCH_DATA`` overrides it)."""
    env = os.environ.get("WORKBENCH_DATA")
    return Path(env) if env else REPO_ROOT / "data"


def out_dir(*parts: str) -> Path:
    """Folder for exports, reports and stores (``$WORKBENCH_OUT``, else ``out/``), created on demand."""
    env = os.environ.get("WORKBENCH_OUT")
    path = (Path(env) if env else REPO_ROOT / "out").joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
