"""Synthetic Labels Workbench: generate, filter, learn from and export labels no human wrote."""

from workbench.data import Dataset, load_table, load_wrench, load_youtube_spam

ABSTAIN = -1

__all__ = ["ABSTAIN", "Dataset", "Studio", "load_table", "load_wrench", "load_youtube_spam"]


def __getattr__(name: str):
    # The studio pulls in ipywidgets and plotly: import it only when someone asks for it.
    if name == "Studio":
        from workbench.ui.studio import Studio

        return Studio
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
__version__ = "0.1.0"
