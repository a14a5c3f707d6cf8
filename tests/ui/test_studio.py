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
    # The debounce keeps the fit pending long enough to see the "refitting" state: a 0.3 s fit
    # behind a 0.05 s debounce could finish before the first assertion on an idle machine.
    studio = open_studio(youtube, YOUTUBE_LFS, label_model="snorkel", debounce=3,
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


def test_the_default_label_model_is_live_and_candidates_compare_side_by_side(youtube):
    studio = open_studio(youtube, label_model="dawid_skene")
    assert studio.state.snapshot.label_model_current  # fitted in the refresh: never stale
    assert "up to date" in studio.lm_status.value
    studio.compare_button.click()
    html = studio.compare_html.value
    for name in ("dawid_skene", "hyper", "weighted", "majority"):
        assert f"<b>{name}</b>" in html
    assert "auto chose" in html and "interval" in html
    studio.close()


# -- issue 17: feedback where the work happens -----------------------------------------------


def test_form_preview_follows_typing_before_add(studio):
    assert "Type keywords" in studio.preview_text and studio.preview is None
    studio.form_label.value = SPAM
    studio.form_pattern.value = "check"
    first = studio.preview
    assert first.name == "kw_check" and first.pool_hits > 0
    assert f"fires on {first.pool_hits:,} of {first.n_pool:,} pool rows" in studio.preview_text
    assert f"({first.dev_correct}/{first.dev_votes} right, 95% interval" in studio.preview_text
    studio.form_pattern.value = "check, subscribe"
    second = studio.preview
    assert second.pool_hits > first.pool_hits and "kw_check_subscribe" in studio.preview_text
    assert "kw_check_subscribe" not in studio.state.names  # nothing added yet
    studio.form_label.value = HAM  # the same words voting ham: dev precision collapses
    assert studio.preview.dev_correct < second.dev_correct
    studio.form_kind.value = "regex"
    studio.form_pattern.value = "(unclosed"
    assert studio.preview is None and "invalid regular expression" in studio.preview_text
    studio.form_pattern.value = ""
    assert "Type keywords" in studio.preview_text


def test_name_collision_asks_replace_or_rename(studio):
    code_lf = studio.state.lf("kw_subscribe")
    studio.form_pattern.value = "sub4sub"
    studio.form_name.value = "kw_subscribe"
    studio.form_add.click()
    assert studio.state.lf("kw_subscribe") is code_lf  # nothing replaced silently
    assert studio.form_question.layout.display == "flex" and "written in code" in studio.form_ask.value
    studio.form_rename.click()
    assert studio.state.lf("kw_subscribe") is code_lf
    assert studio.state.lf("kw_subscribe_2").params["keywords"] == ["sub4sub"]
    assert studio.state.origin("kw_subscribe_2") == "form" and studio.form_question.layout.display == "none"
    studio.form_pattern.value = "sub4sub, sub 4 sub"
    studio.form_name.value = "kw_subscribe"
    studio.form_add.click()
    studio.form_replace.click()
    assert studio.state.lf("kw_subscribe").params["keywords"] == ["sub4sub", "sub 4 sub"]
    assert studio.state.origin("kw_subscribe") == "form" and "Replaced" in studio.form_message.value


def test_copy_as_code_gives_python_that_rebuilds_the_form_lf(studio):
    studio.form_kind.value = "regex"
    studio.form_pattern.value = r"check\s+(out|my)"
    studio.form_name.value = "re_check"
    studio.form_copy.click()
    namespace = {}
    exec(studio.form_code.value, namespace)
    assert namespace["re_check"].params == studio._form_lf().params
    assert studio.form_code.layout.display == "block"


def test_status_text_and_example_texts_carry_no_markup(studio):
    assert "<" not in studio.status_text and re.search(r"^\d+ LFs \(\d+ on", studio.status_text)
    # 'I&#39;m' and '<br />' in raw comments: shown decoded, never as entities or tags
    raw = studio.state.splits["train"].df["text"]
    marked = raw[raw.str.contains("&#39;|<br", regex=True)]
    assert len(marked) > 0
    studio.browse_lf.value = studio.snapshot.names[0]
    html_rows = studio._rows_html(studio.state.splits["train"].df.loc[marked.index[:5], ["example_id", "text"]], "m")
    assert "&amp;#39;" not in html_rows and "&lt;br" not in html_rows


def test_cell_results_print_one_line_per_changed_lf(youtube, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.user_ns.update(Studio=Studio, youtube=youtube, LabelCache=LabelCache, keyword_lf=keyword_lf)
        shell.run_cell("studio = Studio(youtube, display=False, label_model='majority', cache=LabelCache())")
        assert capsys.readouterr().out == ""  # the cell that opens the studio prints nothing
        shell.run_cell("studio.add(keyword_lf('kw_sub', ['subscribe'], 1))")
        out = capsys.readouterr().out.strip().splitlines()
        assert len(out) == 1 and re.match(r"kw_sub v1 \(new\): coverage \d+\.\d%, dev accuracy \d+% \(\d+/\d+, 95% CI", out[0])
        shell.run_cell("studio.add(keyword_lf('kw_sub', ['subscribe', 'sub'], 1))")
        out = capsys.readouterr().out.strip().splitlines()
        assert re.match(r"kw_sub v2 \(was v1\): coverage .* \(\+\d+\.\d pts\), dev accuracy", out[0])
        shell.run_cell("studio.add(keyword_lf('kw_sub', ['subscribe'], 4))")
        out = capsys.readouterr().out
        assert "kw_sub v3 (was v2): FAILED: LF 'kw_sub' failed on" in out and "label 4 out of range" in out
        shell.run_cell("x = 1")
        assert capsys.readouterr().out == ""  # a cell that touches no LF prints nothing
        shell.run_cell("studio.close()")
    finally:
        InteractiveShell.clear_instance()


def test_store_keeps_the_studios_lfs_across_a_restart(youtube, tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    store = tmp_path / "project.sqlite"
    shell = InteractiveShell.instance()
    try:
        shell.run_cell("def shouting(x):\n    return sum(c.isupper() for c in x.text) > 20\n")
        studio = open_studio(youtube, lfs=YOUTUBE_LFS[:2], store=store)
        studio.add(predicate_lf("shouting", shell.user_ns["shouting"], SPAM))
        studio.form_pattern.value, studio.form_label.value = "lottery, prize", SPAM
        studio.form_add.click()
        studio.disable(YOUTUBE_LFS[1].name)
        before = studio.snapshot
        versions = studio.history.to_records()
        studio.close()
    finally:
        InteractiveShell.clear_instance()  # the kernel is gone: the cell that defined shouting too

    again = open_studio(youtube, lfs=(), store=store)
    try:
        assert again.state.names == [YOUTUBE_LFS[0].name, YOUTUBE_LFS[1].name, "shouting", "kw_lottery_prize"]
        assert not again.state.enabled(YOUTUBE_LFS[1].name) and again.state.origin("kw_lottery_prize") == "form"
        np.testing.assert_array_equal(again.snapshot.L_train, before.L_train)
        assert again.history.to_records() == versions and again.restore_problems == []
        assert names(again)[-1] == "kw_lottery_prize"
    finally:
        again.close()
    other = open_studio(youtube, lfs=(), store=store, session="another project")
    assert other.state.names == []
    other.close()


def test_export_button_writes_the_lf_module(studio, tmp_path):
    studio.export_dir = tmp_path / "exported"
    studio.export_button.click()
    path = tmp_path / "exported" / "labeling_functions.py"
    namespace = {}
    exec(path.read_text(), namespace)
    assert [lf.name for lf in namespace["LFS"]] == studio.snapshot.names and "Exported" in studio.export_message.value
