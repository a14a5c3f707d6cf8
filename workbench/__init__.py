"""Synthetic Labels Workbench: generate, filter, learn from and export labels no human wrote."""

from workbench.data import Dataset, load_table, load_wrench, load_youtube_spam

ABSTAIN = -1

__all__ = ["ABSTAIN", "Dataset", "load_table", "load_wrench", "load_youtube_spam"]
__version__ = "0.1.0"
