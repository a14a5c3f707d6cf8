"""Fixtures shared by the review tests: a fresh project store and a five-row pool."""

import pandas as pd
import pytest

from workbench.review import ProjectStore


@pytest.fixture
def store(tmp_path):
    with ProjectStore(tmp_path / "project.sqlite", class_names=["ham", "spam"]) as s:
        yield s


@pytest.fixture
def pool():
    return pd.DataFrame({
        "example_id": [f"p{i}" for i in range(5)],
        "text": ["nice song", "check out my channel", "subscribe to me", "love this video", "free money here"],
    })
