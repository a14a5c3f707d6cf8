"""The LF Studio in a real JupyterLab, in Debian's Chromium: it renders, and the no-code form works."""

import json
import re
import shutil
from pathlib import Path

import pytest

from tests._browser import (
    chromium_page,
    jupyter_lab,
    requires_chromium,
    run_all_cells,
    screenshot,
)

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_labeling_functions.ipynb"
TABLE_TEXT = "() => (document.querySelector('.wb-studio .widget-gridbox') || {innerText: ''}).innerText"
PLOT_DATA = ("() => [...document.querySelectorAll('.wb-studio .js-plotly-plot')]"
             ".map(div => JSON.stringify((div.data || []).map(t => [t.x, t.y, t.z])))")


@pytest.mark.browser
@requires_chromium
def test_studio_renders_and_the_no_code_form_adds_an_lf(tmp_path, monkeypatch):
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    # Render every cell (no windowing), so the dashboard stays in the page while later cells run.
    tracker = root / ".lab-settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    monkeypatch.setenv("WORKBENCH_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOK.parents[1]))  # the kernel imports this checkout

    with jupyter_lab(root) as lab, chromium_page() as page:
        page.goto(lab.url(f"lab/tree/{NOTEBOOK.name}"))
        run_all_cells(page)
        dashboard = page.locator(".wb-studio").first
        dashboard.wait_for(timeout=60_000)
        page.wait_for_function(f"() => ({TABLE_TEXT})().includes('mentions_channel')", timeout=60_000)
        table = page.evaluate(TABLE_TEXT)
        for name in ("kw_subscribe", "kw_song", "re_check_out", "mentions_channel", "praise_without_link", "shouting", "kw_free"):
            assert name in table
        # Drawn, not only present: plotly sets a div's data once it has rendered it.
        try:
            page.wait_for_function("() => { const plots = [...document.querySelectorAll('.wb-studio .js-plotly-plot')];"
                                   " return plots.length >= 4 && plots.every(gd => gd.data && gd.data.length); }", timeout=60_000)
        except Exception:
            screenshot(page, "studio_plots_not_drawn")
            raise AssertionError(page.evaluate("() => [...document.querySelectorAll('.wb-studio .js-plotly-plot')]"
                                               ".map(gd => [gd.data ? gd.data.length : 'no data', gd.id, gd.className])"))
        heatmap_names = page.evaluate("() => document.querySelector('.wb-studio .js-plotly-plot').data[0].x")
        assert "mentions_channel" in heatmap_names
        before = page.evaluate(PLOT_DATA)

        dashboard.scroll_into_view_if_needed()
        page.get_by_placeholder("free, win, gift card").fill("lottery, jackpot, prize")
        page.get_by_placeholder("name (optional)").fill("kw_lottery")
        dashboard.locator("select").first.select_option(label="spam")
        page.get_by_role("button", name="Add LF").click()

        page.wait_for_function(f"() => ({TABLE_TEXT})().includes('kw_lottery')", timeout=60_000)
        page.wait_for_function("() => document.querySelector('.wb-studio .js-plotly-plot').data[0].x.includes('kw_lottery')",
                               timeout=60_000)
        after = page.evaluate(PLOT_DATA)
        assert after[0] != before[0] and after[1] != before[1]  # overlap and conflict heatmaps
        assert "Added" in dashboard.inner_text()
        dashboard.locator(".widget-gridbox").scroll_into_view_if_needed()
        screenshot(page, "studio_browser")


REPO = Path(__file__).resolve().parents[2]
FORM_NOTEBOOK = "studio_store.ipynb"
PREVIEW_TEXT = "() => [...document.querySelectorAll('.wb-studio .widget-html')].map(e => e.innerText).join('\\n')"


def _studio_notebook(root: Path, store: Path) -> None:
    """A one-cell notebook opening a studio on a project store (no LF defined in code)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(
        "from workbench import load_youtube_spam\nfrom workbench.ui.studio import Studio\n"
        f"studio = Studio(load_youtube_spam(), store={str(store)!r}, label_model='majority')")])
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, root / FORM_NOTEBOOK)


def _open_studio(page, lab) -> None:
    page.goto(lab.url(f"lab/tree/{FORM_NOTEBOOK}"))
    run_all_cells(page)
    page.locator(".wb-studio").first.wait_for(timeout=120_000)
    page.get_by_placeholder("free, win, gift card").wait_for(timeout=60_000)


@pytest.fixture
def lab_root(tmp_path, monkeypatch):
    root = tmp_path / "lab"
    root.mkdir()
    monkeypatch.setenv("WORKBENCH_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the kernel imports this checkout
    _studio_notebook(root, tmp_path / "project.sqlite")
    return root


@pytest.mark.browser
@requires_chromium
def test_the_form_previews_a_keyword_list_as_it_is_typed_before_add(lab_root):
    with jupyter_lab(lab_root) as lab, chromium_page() as page:
        _open_studio(page, lab)
        pattern = page.get_by_placeholder("free, win, gift card")
        pattern.click()
        page.keyboard.type("check", delay=30)
        page.wait_for_function(f"() => ({PREVIEW_TEXT})().includes('Preview of kw_check (not added yet)')", timeout=60_000)
        first = page.evaluate(PREVIEW_TEXT)
        assert "dev precision" in first and "95% interval" in first
        page.keyboard.type(", subscribe", delay=30)
        page.wait_for_function(f"() => ({PREVIEW_TEXT})().includes('Preview of kw_check_subscribe')", timeout=60_000)
        second = page.evaluate(PREVIEW_TEXT)
        hits = [int(m.replace(",", "")) for m in re.findall(r"fires on ([\d,]+) of", first + "\n" + second)]
        assert len(hits) == 2 and hits[1] > hits[0]  # more keywords, more pool rows: the preview followed the typing
        assert "kw_check" not in page.evaluate(TABLE_TEXT)  # nothing added before Add
        screenshot(page, "studio_form_preview")
        page.get_by_role("button", name="Add LF").click()
        page.wait_for_function(f"() => ({TABLE_TEXT})().includes('kw_check_subscribe')", timeout=60_000)


@pytest.mark.browser
@requires_chromium
def test_the_studios_lfs_come_back_after_a_kernel_restart(lab_root):
    with jupyter_lab(lab_root) as lab, chromium_page() as page:
        _open_studio(page, lab)
        page.get_by_placeholder("free, win, gift card").fill("lottery, jackpot")
        page.get_by_placeholder("name (optional)").fill("kw_lottery")
        page.get_by_role("button", name="Add LF").click()
        page.wait_for_function(f"() => ({TABLE_TEXT})().includes('kw_lottery')", timeout=60_000)

        # A new kernel, and no output of the old one left in the page: what comes back comes from the store.
        page.locator("div.lm-MenuBar-itemLabel", has_text="Kernel").first.click()
        page.locator("li.lm-Menu-item", has_text="Restart Kernel and Clear Outputs").first.click()
        page.locator(".jp-Dialog-footer button.jp-mod-accept").click()
        page.wait_for_function("() => document.querySelector('.wb-studio') === null", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached", timeout=120_000)
        run_all_cells(page)
        page.wait_for_function(f"() => ({TABLE_TEXT})().includes('kw_lottery')", timeout=120_000)
        screenshot(page, "studio_after_restart")


@pytest.mark.browser
@requires_chromium
def test_the_studio_app_under_voila_adds_saves_and_exports(tmp_path, monkeypatch):
    from tests._browser import voila
    from workbench.review import ProjectStore

    monkeypatch.setenv("WORKBENCH_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    with voila(REPO / "apps" / "studio.ipynb", tmp_path) as app, chromium_page() as page:
        page.goto(app.url(), timeout=120_000)
        pattern = page.get_by_placeholder("free, win, gift card")
        pattern.wait_for(timeout=120_000)
        pattern.click()
        page.keyboard.type("lottery, prize", delay=30)
        page.wait_for_function(f"() => ({PREVIEW_TEXT})().includes('Preview of kw_lottery_prize')", timeout=60_000)
        page.locator(".wb-studio select").first.select_option(label="spam")
        page.get_by_role("button", name="Add LF").click()
        page.wait_for_function(f"() => ({TABLE_TEXT})().includes('kw_lottery_prize')", timeout=60_000)
        page.get_by_role("button", name="Export LFs").click()
        page.wait_for_function("() => document.querySelector('.wb-studio').innerText.includes('Exported 1 LFs')", timeout=60_000)
        screenshot(page, "studio_app")
    exported = (tmp_path / "out" / "studio" / "labeling_functions.py").read_text()
    assert "kw_lottery_prize = keyword_lf(" in exported
    with ProjectStore(tmp_path / "out" / "workbench.sqlite") as store:
        assert [lf["name"] for lf in store.load_studio("studio app")["lfs"]] == ["kw_lottery_prize"]
