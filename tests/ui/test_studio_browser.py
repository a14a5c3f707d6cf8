"""The LF Studio in a real JupyterLab, in Debian's Chromium: it renders, and the no-code form works."""

import json
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

    with jupyter_lab(root) as lab, chromium_page() as page:
        page.goto(lab.url(f"lab/tree/{NOTEBOOK.name}"))
        run_all_cells(page)
        dashboard = page.locator(".wb-studio").first
        dashboard.wait_for(timeout=60_000)
        page.wait_for_function(f"() => ({TABLE_TEXT})().includes('mentions_channel')", timeout=60_000)
        table = page.evaluate(TABLE_TEXT)
        for name in ("kw_subscribe", "kw_song", "re_check_out", "mentions_channel", "praise_without_link", "shouting", "kw_free"):
            assert name in table
        page.wait_for_function("() => document.querySelectorAll('.wb-studio .js-plotly-plot').length >= 4", timeout=60_000)
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
