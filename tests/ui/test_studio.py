"""LF Studio dashboard driven from Python: set widget values, click, and check what changes."""

import re

import numpy as np
import pytest

from tests._helpers import accuracy_weighted_vote
from workbench.data.youtube_lfs import HAM, SPAM, YOUTUBE_LFS
from workbench.generate import LABEL_MODELS
from workbench.labeling import LabelCache, keyword_lf, predicate_lf, regex_lf
from workbench.ui.studio import TABLE_COLUMNS, Studio

WIDTH = len(TABLE_COLUMNS) + 2  # checkbox, cells, remove button


def open_studio(youtube, lfs=YOUTUBE_LFS[:6], **kwargs):
    settings = dict(display=False, auto_refresh=False, label_model="majority", cache=LabelCache())
    return Studio(youtube, list(lfs), **{**settings, **kwargs})


def table(studio):
    """The summary table as rows of (name, checkbox, cell texts)."""
    kids = studio.table.children[WIDTH:]
    rows = []
    for i in range(0, len(kids), WIDTH):
        checkbox, *cells, _remove = kids[i : i + WIDTH]
        texts = [re.sub(r"<[^>]+>", "", c.value) for c in cells]
        rows.append((re.search(r"<b>(.*?)</b>", cells[0].value).group(1), checkbox, texts))
    return rows


def names(studio):
    return [r[0] for r in table(studio)]


def click_cell(fig, x, y):
    """What plotly.js sends when a heatmap cell is clicked."""
    fig._js2py_pointsCallback = {"event_type": "plotly_click", "points": {
        "xs": [x], "ys": [y], "point_indexes": [[0, 0]], "trace_indexes": [0]}, "device_state": None, "selector": None}


@pytest.fixture
def studio(youtube):
    s = open_studio(youtube)
    yield s
    s.close()


def test_table_lists_lfs_with_their_statistics_and_sorts(studio):
    assert names(studio) == [lf.name for lf in YOUTUBE_LFS[:6]]
    summary = studio.summary
    name, checkbox, cells = table(studio)[0]
    assert checkbox.value is True
    assert cells[4] == f"{summary.loc[name, 'Coverage']:.1%}"
    correct, wrong = summary.loc[name, ["Dev Correct", "Dev Incorrect"]]
    assert cells[8] == f"{summary.loc[name, 'Dev Acc.']:.1%} ({correct}/{correct + wrong})"
    assert cells[9] == f"{summary.loc[name, 'Dev Acc. Low']:.1%}–{summary.loc[name, 'Dev Acc. High']:.1%}"
    studio.header_buttons["Coverage"].click()
    by_coverage = list(summary["Coverage"].sort_values(ascending=False).index)
    assert names(studio) == by_coverage
    assert studio.header_buttons["Coverage"].description.endswith("▼")
    studio.header_buttons["Coverage"].click()
    assert names(studio) == by_coverage[::-1]
    studio.header_buttons["LF"].click()
    assert names(studio) == sorted(by_coverage)


def test_unticking_an_lf_switches_it_off_everywhere(studio):
    hist_before = np.array(studio.confidence_fig.data[0].y)
    row = [r for r in table(studio) if r[0] == "kw_my"][0]
    row[1].value = False
    assert not studio.state.enabled("kw_my")
    assert "kw_my" not in studio.overlap_fig.data[0].x and "kw_my" not in studio.conflict_fig.data[0].y
    assert "kw_my" not in studio.browse_lf.options
    assert "(off)" in [r for r in table(studio) if r[0] == "kw_my"][0][2][0]
    assert not np.array_equal(hist_before, np.array(studio.confidence_fig.data[0].y))
    [r for r in table(studio) if r[0] == "kw_my"][0][1].value = True
    assert "kw_my" in studio.overlap_fig.data[0].x
    np.testing.assert_array_equal(hist_before, np.array(studio.confidence_fig.data[0].y))


def test_add_replace_and_remove_from_code(studio):
    studio.add(keyword_lf("kw_free", ["free"], SPAM))
    assert names(studio)[-1] == "kw_free" and studio.overlap_fig.data[0].x[-1] == "kw_free"
    overlap = np.array(studio.overlap_fig.data[0].z)
    assert overlap.shape == (7, 7)
    np.testing.assert_allclose(np.diag(overlap), studio.summary["Coverage"].to_numpy(float))

    @studio.lf(label=HAM)
    def says_song(x):
        return "song" in x.text.lower()

    assert says_song.name == "says_song" and names(studio)[-1] == "says_song"
    coverage_v1 = studio.summary.loc["says_song", "Coverage"]

    @studio.lf(label=HAM)
    def says_song(x):  # noqa: F811 - re-running the cell replaces the LF
        return "song" in x.text.lower() or "music" in x.text.lower()

    assert names(studio).count("says_song") == 1
    assert studio.summary.loc["says_song", "Version"] == 2
    assert studio.summary.loc["says_song", "Coverage"] > coverage_v1
    assert studio.history_lf.value == "says_song"
    assert "v2" in studio.history_html.value and "v1" in studio.history_html.value and "music" in studio.history_html.value
    assert studio.snapshot.applied == ["says_song"]
    kids = studio.table.children
    remove = kids[names(studio).index("kw_free") * WIDTH + WIDTH + WIDTH - 1]
    remove.click()
    assert "kw_free" not in names(studio) and "kw_free" not in studio.overlap_fig.data[0].x


def test_snorkel_style_decorator_without_label(studio):
    @studio.lf()
    def question(x):
        return HAM if x.text.strip().endswith("?") else -1

    assert studio.summary.loc["question", "Kind"] == "row-wise"
    assert studio.summary.loc["question", "Coverage"] > 0


def test_no_code_form_adds_keyword_and_regex_lfs(studio):
    heat_before = np.array(studio.conflict_fig.data[0].z)
    studio.form_pattern.value = "free, gift card"
    studio.form_label.value = SPAM
    studio.form_add.click()
    assert names(studio)[-1] == "kw_free_gift_card"
    assert "Added" in studio.form_message.value and studio.form_pattern.value == ""
    lf = studio.state.lf("kw_free_gift_card")
    assert lf.params["keywords"] == ["free", "gift card"] and lf.params["label"] == SPAM
    assert np.array(studio.conflict_fig.data[0].z).shape != heat_before.shape

    studio.form_kind.value = "regex"
    studio.form_pattern.value = r"\bsub(scribe)?\b"
    studio.form_name.value = "re_sub"
    studio.form_add.click()
    assert names(studio)[-1] == "re_sub" and studio.state.lf("re_sub").builder == "regex_lf"

    studio.form_pattern.value = "(unclosed"
    studio.form_add.click()
    assert "invalid regular expression" in studio.form_message.value
    assert names(studio)[-1] == "re_sub"
    studio.form_kind.value = "keywords"
    studio.form_pattern.value = " , "
    studio.form_add.click()
    assert "at least one keyword" in studio.form_message.value


def test_heatmap_click_and_pair_chooser_list_rows(studio):
    click_cell(studio.conflict_fig, "kw_song", "kw_my")
    assert (studio.pair_a.value, studio.pair_b.value, studio.pair_kind.value) == ("kw_my", "kw_song", "conflict")
    total, page = studio.state.browse("conflict", lf="kw_my", other="kw_song")
    assert total > 0
    assert f"<b>{total:,}</b> pool rows" in studio.pair_rows.value
    assert page["example_id"].iloc[0] in studio.pair_rows.value
    click_cell(studio.overlap_fig, "kw_song", "kw_my")
    overlap_total, _ = studio.state.browse("overlap", lf="kw_my", other="kw_song")
    assert studio.pair_kind.value == "overlap" and f"<b>{overlap_total:,}</b> pool rows" in studio.pair_rows.value
    assert overlap_total >= total
    studio.pair_b.value = "kw_link"
    assert "kw_link" in studio.pair_rows.value


def test_example_browser_pages_and_kinds(studio):
    studio.browse_lf.value = "kw_my"
    total, first = studio.state.browse("fires", lf="kw_my", page_size=10)
    assert f"<b>{total:,}</b> pool rows where kw_my votes" in studio.browse_rows.value
    assert first["example_id"].iloc[0] in studio.browse_rows.value
    studio.browse_pager.next.click()
    _, second = studio.state.browse("fires", lf="kw_my", page=1, page_size=10)
    assert second["example_id"].iloc[0] in studio.browse_rows.value
    assert first["example_id"].iloc[0] not in studio.browse_rows.value
    assert "rows 11–20" in studio.browse_pager.label.value
    studio.browse_kind.value = "wrong"
    wrong, _ = studio.state.browse("wrong", lf="kw_my")
    assert f"<b>{wrong:,}</b> dev rows" in studio.browse_rows.value and "<th>gold</th>" in studio.browse_rows.value
    assert "rows 1–" in studio.browse_pager.label.value  # a new question starts on page 1
    studio.browse_kind.value = "abstain"
    uncovered = int((studio.snapshot.L_dev == -1).all(axis=1).sum())
    assert f"<b>{uncovered:,}</b> dev rows where no LF votes" in studio.browse_rows.value
    studio.browse_split.value = "train"
    uncovered = int((studio.snapshot.L_train == -1).all(axis=1).sum())
    assert f"<b>{uncovered:,}</b> pool rows where no LF votes" in studio.browse_rows.value
    assert "P (majority vote)" in studio.browse_rows.value


def test_browser_follows_edits(studio):
    studio.browse_lf.value = "kw_money"
    before = studio.browse_rows.value
    studio.add(keyword_lf("kw_money", ["money", "cash", "earn", "free", "win", "gift card", "iphone"], SPAM))
    assert studio.browse_rows.value != before
    total, _ = studio.state.browse("fires", lf="kw_money")
    assert f"<b>{total:,}</b> pool rows where kw_money votes" in studio.browse_rows.value


def test_failing_lf_is_shown_and_the_rest_keeps_working(studio):
    @studio.lf(label=SPAM)
    def fragile(x):
        return 1 / (len(x.text) - len(x.text)) > 0 if "!!" in x.text else False

    assert "fragile" in studio.errors.value and "ZeroDivisionError" in studio.errors.value
    assert re.search(r"first on row \d+ \(example_id=", studio.errors.value)
    assert "failing" in [r for r in table(studio) if r[0] == "fragile"][0][2][0]
    assert "fragile" not in studio.overlap_fig.data[0].x
    studio.add(keyword_lf("kw_free", ["free"], SPAM))  # the dashboard still works
    assert "kw_free" in studio.overlap_fig.data[0].x

    @studio.lf(label=SPAM)
    def fragile(x):  # noqa: F811 - fixed
        return "!!" in x.text

    assert studio.errors.value == "" and "fragile" in studio.overlap_fig.data[0].x


def test_label_model_panel_says_which_model_and_whether_current(youtube):
    studio = open_studio(youtube, YOUTUBE_LFS, label_model="snorkel", debounce=0.05,
                         label_model_settings={"n_epochs": 50})
    try:
        assert "refitting" in studio.lm_status.value and "majority vote" in studio.lm_status.value
        assert studio.wait_label_model(300)
        assert "up to date" in studio.lm_status.value and "snorkel label model" in studio.lm_status.value
        assert f"fitted on {len(youtube.train):,} pool rows" in studio.lm_status.value
        lm = studio.snapshot.label_model
        np.testing.assert_array_equal(studio.confidence_fig.data[1].y, lm.hist_counts)
        assert len(studio.confidence_fig.data[1].y) == 20 < len(youtube.train)  # binned, never a point per row
        assert studio.confidence_fig.data[1].opacity == pytest.approx(0.6)
        np.testing.assert_allclose(studio.balance_fig.data[2].y, lm.balance)
        dev_share = np.bincount(youtube.gold("dev"), minlength=2) / len(youtube.dev)
        np.testing.assert_allclose(studio.balance_fig.data[0].y, dev_share)
        assert f"{lm.dev_scores['accuracy']:.1%}" in studio.lm_metrics.value
        assert f"{studio.snapshot.majority.dev_scores['accuracy']:.1%}" in studio.lm_metrics.value
        assert "Learned" not in table(studio)[0][2][10] and table(studio)[0][2][10] != "–"
        assert "P (snorkel label model)" in studio.browse_rows.value

        studio.disable("kw_my")  # a new LF set: the old fit is drawn faded until the refit lands
        assert "refitting" in studio.lm_status.value
        assert studio.confidence_fig.data[1].opacity == pytest.approx(0.2)
        assert "stale" in studio.confidence_fig.data[1].name
        assert studio.wait_label_model(300)
        assert "up to date" in studio.lm_status.value and studio.confidence_fig.data[1].opacity == pytest.approx(0.6)
    finally:
        studio.close()


def test_label_model_panel_names_a_registered_label_model(youtube):
    LABEL_MODELS.register("accuracy_weighted", accuracy_weighted_vote())
    try:
        studio = open_studio(youtube, YOUTUBE_LFS, label_model="accuracy_weighted", background=False)
        lm = studio.snapshot.label_model
        assert "Showing the <b>accuracy_weighted label model</b>: <b>up to date</b>" in studio.lm_status.value
        assert f"<b>accuracy_weighted label model</b></td><td>{lm.dev_scores['accuracy']:.1%}" in studio.lm_metrics.value
        assert studio.confidence_fig.data[1].name == "accuracy_weighted label model"
        np.testing.assert_array_equal(studio.confidence_fig.data[1].y, lm.hist_counts)
        studio.close()
    finally:
        LABEL_MODELS.unregister("accuracy_weighted")


def test_auto_refresh_after_a_cell_edits_data_an_lf_reads(youtube):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("WORDS = ['song']\n"
                       "def says(x):\n    return any(w in x.text.lower() for w in WORDS)\n")
        studio = Studio(youtube, [predicate_lf("says", shell.user_ns["says"], HAM)], display=False,
                        label_model="majority", cache=LabelCache())
        before = studio.summary.loc["says", "Coverage"]
        shell.run_cell("WORDS = ['song', 'love']")
        assert studio.summary.loc["says", "Coverage"] > before
        assert studio.snapshot.applied == ["says"]
        studio.close()
        shell.run_cell("WORDS = ['song']")
        assert studio.summary.loc["says", "Coverage"] > before  # closed: no longer watching
    finally:
        InteractiveShell.clear_instance()


def test_status_line_reports_counts_and_timing(studio):
    studio.disable("kw_song")
    assert "6</b> LFs (5 on, 1 off, 0 failing)" in studio.status.value
    assert re.search(r"refreshed in \d+ ms", studio.status.value)
    assert studio.last_refresh_seconds > 0


def test_save_lfs_from_the_dashboard(studio, tmp_path):
    studio.add(regex_lf("re_check", r"check.*out", SPAM))
    path = studio.save_lfs(tmp_path / "lfs.py")
    namespace = {}
    exec(path.read_text(), namespace)
    assert [lf.name for lf in namespace["LFS"]] == studio.snapshot.names
