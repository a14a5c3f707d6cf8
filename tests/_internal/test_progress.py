"""Progress bars that a loop leaves early end full, saying where they stopped.

The bars are made with ``disable=False`` because the test suite sets ``TQDM_DISABLE``.
"""

from tqdm import tqdm as text_tqdm
from tqdm.notebook import tqdm as notebook_tqdm

from workbench._internal.progress import end_early


def test_a_notebook_bar_left_early_ends_full_and_green_not_red():
    plain = notebook_tqdm(total=10, desc="rounds", disable=False)
    plain.update(4)
    plain.close()
    assert plain.container.children[1].bar_style == "danger"  # what tqdm does on its own

    bar = notebook_tqdm(total=10, desc="rounds", disable=False)
    bar.update(4)
    end_early(bar, "round 4")
    progress = bar.container.children[1]
    assert (progress.value, progress.max, progress.bar_style) == (4, 4, "success")
    assert bar.desc == "rounds: stopped early at round 4"
    assert "stopped early at round 4" in bar.container.children[0].value.replace("\u2007", " ")  # what it shows


def test_text_bar_and_edge_cases(capsys):
    bar = text_tqdm(total=10, desc="epochs", disable=False)
    bar.update(3)
    end_early(bar, "epoch 3")
    assert (bar.n, bar.total) == (3, 3)
    assert "epochs: stopped early at epoch 3" in capsys.readouterr().err.splitlines()[-1]

    full = notebook_tqdm(total=3, desc="rounds", disable=False)  # stopping at the last step is no early stop
    full.update(3)
    end_early(full, "round 3")
    assert full.desc == "rounds" and full.container.children[1].bar_style == "success"

    quiet = text_tqdm(total=10, desc="rounds", disable=True)  # quiet means none, and nothing breaks
    end_early(quiet, "round 1")
    assert capsys.readouterr().err == ""
