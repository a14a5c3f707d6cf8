import os

import numpy as np
import pytest

# Snorkel and our own code use tqdm.auto; keep test logs readable.
os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="session")
def youtube():
    from workbench.data import load_youtube_spam

    return load_youtube_spam()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
