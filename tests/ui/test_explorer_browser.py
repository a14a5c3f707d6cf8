"""The threshold explorer as a Voila web app, in a real browser (Debian Chromium)."""

import re
from pathlib import Path

import pandas as pd
import pytest

from tests._browser import chromium_page, requires_chromium, screenshot, voila

APP = Path(__file__).resolve().parents[2] / "apps" / "explorer.ipynb"

# The plotly div whose title starts with `prefix`, read straight from the page.
FIGURE = """(prefix) => [...document.querySelectorAll('.js-plotly-plot')]
    .find(gd => gd.layout && gd.layout.title && String(gd.layout.title.text || gd.layout.title).startsWith(prefix))"""


ALL_DRAWN = """() => {
    const plots = [...document.querySelectorAll('.js-plotly-plot')];
    return plots.length === 3 && plots.every(gd => gd._fullLayout && gd._fullData && gd._fullData.length === gd.data.length
        && gd.querySelector('.main-svg'));
}"""

KEPT_TEXT_DROPPED = """(n) => {
    const text = document.querySelector('.explorer-kept .kept-count').innerText;
    return parseInt(text.match(/Kept ([\\d,]+) of/)[1].replace(/,/g, '')) < n;
}"""


def kept_count(page) -> int:
    text = page.locator(".explorer-kept .kept-count").inner_text()
    return int(re.search(r"Kept ([\d,]+) of", text).group(1).replace(",", ""))


@pytest.mark.browser
@requires_chromium
def test_explorer_app_renders_and_follows_the_slider(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_OUT", str(tmp_path / "out"))
    with voila(APP, tmp_path) as app, chromium_page() as page:
        page.goto(app.url(), timeout=120_000)
        # all three figures drawn with their data before touching anything: an update that
        # reaches a plot still being drawn can be lost
        page.wait_for_function(ALL_DRAWN, timeout=300_000)
        assert page.locator(".js-plotly-plot").count() == 3
        page.wait_for_selector(".explorer-kept .kept-count", timeout=60_000)
        before = kept_count(page)
        line_before = page.evaluate(f"() => ({FIGURE})('Confidence').layout.shapes[0].x0")
        funnel_before = page.evaluate(f"() => ({FIGURE})('The kept set').data[2].x")
        assert line_before == pytest.approx(0.7)
        pool_size = int(re.search(r"of ([\d,]+) rows", page.locator(".explorer-kept .kept-count").inner_text()).group(1).replace(",", ""))
        assert funnel_before[0] == pool_size > before and funnel_before[-1] == before
        assert page.locator(".js-plotly-plot .point").count() > 0  # bars are drawn, not empty axes

        slider = page.locator(".widget-slider").filter(has_text="Threshold (all)")
        slider.locator(".noUi-handle").focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        moved_to = float(slider.locator(".widget-readout").inner_text())  # aria-valuenow is rounded
        assert moved_to > 0.7
        # the kernel recomputes and the page's figures follow the slider
        page.wait_for_function(
            f"(v) => Math.abs(({FIGURE})('Confidence').layout.shapes[0].x0 - v) < 1e-9", arg=moved_to, timeout=120_000
        )
        # The kept count follows too, and so does the kept-set figure's funnel and title
        # (once, a quarter of page loads left that figure frozen: see workbench.ui.explorer).
        page.wait_for_function(KEPT_TEXT_DROPPED, arg=before, timeout=60_000)
        after = kept_count(page)
        assert after < before
        page.wait_for_function(f"(n) => {{ const x = ({FIGURE})('The kept set').data[2].x; return x[x.length - 1] === n; }}",
                               arg=after, timeout=60_000)
        assert page.evaluate(f"() => ({FIGURE})('The kept set').layout.title.text") == f"The kept set: {after:,} rows"
        screenshot(page, "explorer_voila")

        page.get_by_role("button", name="Use this curated set").click()
        page.wait_for_function("() => document.body.innerText.includes('Curated set ready')", timeout=60_000)
        saved = tmp_path / "out" / "explorer" / "curated.csv"
        assert len(pd.read_csv(saved)) == after
