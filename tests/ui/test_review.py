import re

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tests._browser import (
    chromium_page,
    jupyter_lab,
    requires_chromium,
    run_all_cells,
    screenshot,
)
from workbench.review import ProjectStore, ReviewQueue
from workbench.ui.review import ReviewWidget

LONG = "Check out my channel! " * 40  # 880 characters

POOL = pd.DataFrame({
    "example_id": ["p0", "p1", "p2", "p3"],
    "text": ["nice song", LONG, "subscribe to me please", "love this video"],
})
P = np.array([[0.9, 0.1], [0.5, 0.5], [0.35, 0.65], [0.8, 0.2]])  # review order: p1, p2, p3, p0
L = np.array([[0, -1, -1], [-1, 1, 1], [-1, 1, -1], [0, -1, -1]])
LABELED = pd.DataFrame({"example_id": ["d0", "d1"], "text": ["check out my new channel", "nice song"], "label": [1, 0]})


@pytest.fixture
def store(tmp_path):
    with ProjectStore(tmp_path / "project.sqlite", class_names=["ham", "spam"]) as s:
        yield s


@pytest.fixture
def widget(store):
    queue = ReviewQueue(POOL, P, store=store, reviewer="ana", protected=None, L=L,
                        lf_names=["kw_song", "kw_check", "kw_sub"], labeled=LABELED, size=3)
    return ReviewWidget(queue, fold_at=100)


def test_shows_the_least_certain_example_with_votes_probability_and_neighbours(widget):
    assert widget.item.example_id == "p1"
    assert "p1" in widget.header.value and "Example 1 of 3" in widget.header.value
    assert "kw_check" in widget.votes.value and "kw_sub" in widget.votes.value and "kw_song" not in widget.votes.value
    assert "2 of 3 LFs voted" in widget.votes.value
    assert "0.500" in widget.proba.value
    assert "check out my new channel" in widget.neighbours.value
    assert "nice song" not in widget.neighbours.value  # shares no word: not a neighbour
    assert widget.progress.value == 0 and widget.undo_button.disabled


def test_text_is_shown_without_markup_and_the_status_reads_as_plain_text(store):
    pool = pd.DataFrame({"example_id": ["h0"], "text": ["I&#39;m new<br />sub &amp; like <a href='x'>here</a>"]})
    queue = ReviewQueue(pool, np.array([[0.5, 0.5]]), store=store, reviewer="ana", protected=None)
    widget = ReviewWidget(queue)
    assert "I&#x27;m new" in widget.text.value or "I'm new" in widget.text.value
    assert "&amp;#39;" not in widget.text.value and "&lt;br" not in widget.text.value and "&lt;a" not in widget.text.value
    assert "sub &amp; like here" in widget.text.value
    assert queue.current.text == pool.text[0]  # the data keeps the raw text
    widget.decide("spam")
    assert "<" not in widget.status_text and "Saved decision" in widget.status_text


def test_long_text_is_folded_until_expanded(widget):
    visible = re.sub(r' title="[^"]*"', "", widget.text.value)  # the full text is only the hover title
    assert len(visible) < len(LONG) and "…" in visible and LONG.strip() in widget.text.value
    assert widget.expand.layout.display is None
    widget.expand.value = True
    assert LONG.strip() in widget.text.value
    widget.press("f")
    assert "…" in widget.text.value
    widget.decide("spam")  # the next example is short: no fold button
    assert widget.expand.layout.display == "none"


def test_clicking_a_class_button_saves_and_shows_the_next_example(widget, store):
    widget.class_buttons[1].click()
    decisions = store.decisions()
    assert decisions[["example_id", "label", "reviewer"]].values.tolist() == [["p1", 1, "ana"]]
    assert decisions["proba"].iloc[0] == [0.5, 0.5]
    assert decisions["lf_votes"].iloc[0] == {"kw_check": 1, "kw_sub": 1}
    assert widget.item.example_id == "p2"
    assert "p2" in widget.header.value and "Example 2 of 3" in widget.header.value
    assert widget.progress.value == 1 and widget.progress_label.value == "1 / 3 decided"
    assert "Saved decision" in widget.status.value and "p1 → spam" in widget.status.value
    assert not widget.undo_button.disabled


def test_skip_unsure_and_the_session_end(widget, store):
    widget.skip_button.click()
    widget.unsure_button.click()
    widget.class_buttons[0].click()
    assert store.decisions()["outcome"].tolist() == ["skip", "unsure", "label"]
    assert widget.item is None and "Session complete: 3 decisions" in widget.header.value
    assert all(b.disabled for b in [*widget.class_buttons, widget.skip_button, widget.unsure_button])
    widget.decide(0)
    assert "Nothing to decide" in widget.status.value and len(store.decisions()) == 3


def test_undo_button_brings_the_example_back(widget, store):
    widget.class_buttons[0].click()
    widget.class_buttons[1].click()
    widget.undo_button.click()
    assert widget.item.example_id == "p2" and widget.progress.value == 1
    assert store.decided_ids() == {"p1"}
    assert "p2 is back" in widget.status.value


def test_keyboard_shortcuts_arrive_as_messages_from_the_browser(widget, store):
    # What the page sends when "2" is pressed on the card (see KeyboardShortcuts._esm).
    widget.shortcuts._handle_custom_msg({"type": "key", "key": "2"}, [])
    assert store.decisions()["label"].tolist() == [1]
    widget.shortcuts._handle_custom_msg({"type": "key", "key": "s"}, [])
    widget.shortcuts._handle_custom_msg({"type": "key", "key": "z"}, [])
    assert store.decisions()["outcome"].tolist() == ["label"]
    widget.shortcuts._handle_custom_msg({"type": "key", "key": "q"}, [])  # not a shortcut
    assert len(store.decisions()) == 1
    assert widget.shortcuts.shortcut_keys == ["1", "2", "s", "u", "z", "f"]


def test_a_failed_save_is_shown_and_the_example_stays(widget, store):
    store.close()
    widget.class_buttons[1].click()
    assert "Not saved" in widget.status.value
    assert widget.item.example_id == "p1"


def test_two_widgets_on_one_store_do_not_show_each_others_decisions(widget, store):
    other_store = ProjectStore(store.path)
    other = ReviewWidget(ReviewQueue(POOL, P, store=other_store, reviewer="bo", protected=None, size=3))
    widget.class_buttons[1].click()  # ana decides p1; bo's widget still shows p1
    assert other.item.example_id == "p1"
    other.class_buttons[0].click()  # bo answers what he sees; then p2, as ana's p1 is decided anyway
    assert other.item.example_id == "p2"
    widget.class_buttons[1].click()  # ana decides p2 while bo looks at it
    other.skip()  # bo's answer is about p2, the example he was shown
    assert widget.item.example_id == other.item.example_id == "p3"
    decisions = store.decisions()
    assert decisions[["example_id", "reviewer", "outcome"]].values.tolist() == [
        ["p1", "ana", "label"], ["p1", "bo", "label"], ["p2", "ana", "label"], ["p2", "bo", "skip"],
    ]
    other_store.close()


# -- in a real browser ---------------------------------------------------------------


@pytest.mark.browser
@requires_chromium
def test_keys_pressed_in_jupyterlab_reach_the_store(tmp_path):
    POOL.to_csv(tmp_path / "pool.csv", index=False)
    np.save(tmp_path / "P.npy", P)
    code = f"""
import numpy as np, pandas as pd
from workbench.review import ReviewQueue
from workbench.review import ProjectStore
from workbench.ui.review import ReviewWidget
store = ProjectStore({str(tmp_path / "review.sqlite")!r}, class_names=["ham", "spam"])
queue = ReviewQueue(pd.read_csv("pool.csv"), np.load("P.npy"), store=store, reviewer="keys", protected=None, size=3)
ReviewWidget(queue, fold_at=100)
"""
    nbformat.write(new_notebook(cells=[new_code_cell(code)], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}),
                   tmp_path / "review.ipynb")
    with jupyter_lab(tmp_path) as lab, chromium_page() as page:
        page.goto(lab.url("lab/tree/review.ipynb"))
        run_all_cells(page)
        header = page.locator(".wb-review h4")
        header.wait_for(timeout=60_000)
        assert "p1" in header.inner_text()
        page.wait_for_function("() => document.querySelector('.wb-review')?.hasAttribute('data-lm-suppress-shortcuts')")
        page.locator(".wb-review h4").click()  # focus the card, as a reviewer would
        page.keyboard.press("2")  # spam; in JupyterLab's command mode "2" would otherwise make a heading cell
        page.wait_for_function("() => document.querySelector('.wb-review h4').textContent.includes('p2')", timeout=30_000)
        page.keyboard.press("s")
        page.wait_for_function("() => document.querySelector('.wb-review h4').textContent.includes('p3')", timeout=30_000)
        page.keyboard.press("z")
        page.wait_for_function("() => document.querySelector('.wb-review h4').textContent.includes('p2')", timeout=30_000)
        screenshot(page, "review_widget")
        assert page.locator(".jp-MarkdownCell").count() == 0  # the keys did not reach JupyterLab's commands
    with ProjectStore(tmp_path / "review.sqlite") as store:
        decisions = store.decisions(include_undone=True)
    assert decisions[["example_id", "outcome"]].values.tolist() == [["p1", "label"], ["p2", "skip"]]
    assert decisions["label"].tolist()[0] == 1 and decisions["undone_at"].notna().tolist() == [False, True]
