"""The threshold explorer as a Voila web app, in a real browser (Debian Chromium).

Ten fresh pages (a new browser context each, so nothing is cached between them), each page's
sliders moved several times with quick key presses: every figure must follow every move,
the histogram's threshold lines included. Every request the pages make must stay on this
machine; plotly.js comes inside the page's HTML, once. The page-ready and slider-to-figure
times are printed (run with ``-s``), not asserted: they depend on the machine's load
(``python -m bench explorer`` breaks the page load down).
"""

import re
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest

from tests._browser import (
    EXPLORER_READY,
    chromium_page,
    requires_chromium,
    screenshot,
    voila,
)

APP = Path(__file__).resolve().parents[2] / "apps" / "explorer.ipynb"
LOADS = 10
# (slider, key presses per move): each move is a burst of presses as fast as the keyboard goes
MOVES = [("Threshold (all)", ["ArrowRight"] * 4), ("Threshold (all)", ["ArrowRight"] * 3), ("Threshold (all)", ["ArrowLeft"] * 2),
         ("spam at least", ["End"]), ("spam at least", ["ArrowLeft"] * 3),
         ("ham at least", ["PageUp"]), ("ham at least", ["ArrowLeft"] * 2)]

# What every figure and the kept count show, read from the page (plotly's _fullData: numbers
# arrive as typed-array specs, which plotly.js decodes there).
STATE = """() => {
    const views = [...document.querySelectorAll('.workbench-plotly')];
    const byTitle = (prefix) => views.find(gd => String(gd.layout.title.text || '').startsWith(prefix));
    const curve = byTitle('Coverage'), histogram = byTitle('Confidence'), kept = byTitle('The kept set');
    const marks = curve._fullData[curve._fullData.length - 1];
    return {
        revisions: views.map(v => Number(v.dataset.revision)),
        lines: histogram._fullLayout.shapes.map(s => s.x0),
        marks: Object.fromEntries(Array.from(marks.text, (name, i) => [name, marks.customdata[i][0]])),
        keptTitle: kept.layout.title.text,
        funnelLast: kept._fullData[2].x[kept._fullData[2].x.length - 1],
        keptText: document.querySelector('.explorer-kept .kept-count').innerText,
    };
}"""

# True once the page shows the thresholds given: histogram lines, curve marks, and all three
# figures from one refresh (same revision) agreeing with the kept count.
FOLLOWS = """([t, classes]) => {
    const s = (%s)();
    const close = (a, b) => Math.abs(a - b) < 1e-9;
    const lines = [t, ...Object.values(classes).filter(c => c > t)];
    const kept = parseInt(s.keptText.match(/Kept ([\\d,]+) of/)[1].replace(/,/g, ''));
    return s.revisions.every(r => r === s.revisions[0])
        && s.lines.length === lines.length && s.lines.every((x, i) => close(x, lines[i]))
        && close(s.marks['all'], t) && Object.entries(classes).every(([c, v]) => close(s.marks[c], Math.max(t, v)))
        && s.funnelLast === kept && s.keptTitle === `The kept set: ${kept.toLocaleString('en-US')} rows`;
}""" % STATE


def readout(page, slider: str) -> float:
    return float(page.locator(".widget-slider").filter(has_text=slider).locator(".widget-readout").inner_text())


def thresholds(page) -> tuple[float, dict[str, float]]:
    return readout(page, "Threshold (all)"), {c: readout(page, f"{c} at least") for c in ("ham", "spam")}


def kept_count(page) -> int:
    text = page.locator(".explorer-kept .kept-count").inner_text()
    return int(re.search(r"Kept ([\d,]+) of", text).group(1).replace(",", ""))


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("blob", "data") or parts.hostname in ("127.0.0.1", "localhost")


@pytest.mark.browser
@requires_chromium
def test_explorer_app_follows_quick_slider_moves_on_fresh_pages(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_OUT", str(tmp_path / "out"))
    requests, loaded_seconds, ready_seconds, update_seconds = [], [], [], []
    with voila(APP, tmp_path) as app, chromium_page() as first_page:
        browser = first_page.context.browser
        for load in range(LOADS):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.on("request", lambda request: requests.append(request.url))
            page = context.new_page()
            try:
                started = time.perf_counter()
                page.goto(app.url(), timeout=120_000)
                loaded_seconds.append(time.perf_counter() - started)  # the page's HTML and scripts
                try:
                    outcome = page.wait_for_function(EXPLORER_READY, timeout=300_000, polling=50).json_value()
                except Exception:
                    screenshot(page, f"explorer_voila_not_ready_load{load}")
                    raise
                assert outcome is True, f"the app's notebook raised:\n{page.inner_text('body')[-3000:]}"
                ready_seconds.append(time.perf_counter() - started)
                # plotly.js came with the page's HTML: no view had to ask the kernel for it
                assert page.evaluate("() => globalThis.__workbench_plotly_js__ === undefined && !!window.Plotly")
                t, classes = thresholds(page)
                assert t == pytest.approx(0.7)
                page.wait_for_function(FOLLOWS, arg=[t, classes], timeout=10_000, polling=50)
                before = kept_count(page)
                for slider, keys in MOVES:
                    page.locator(".widget-slider").filter(has_text=slider).locator(".noUi-handle").focus()
                    for key in keys:
                        page.keyboard.press(key)
                    moved = time.perf_counter()
                    t, classes = thresholds(page)
                    try:
                        page.wait_for_function(FOLLOWS, arg=[t, classes], timeout=30_000, polling=50)
                    except Exception:
                        screenshot(page, f"explorer_voila_stale_load{load}")
                        raise AssertionError(f"page {load + 1}: after moving {slider!r} the figures did not follow "
                                             f"(threshold {t}, classes {classes}): {page.evaluate(STATE)}")
                    update_seconds.append(time.perf_counter() - moved)
                assert t > 0.7 and kept_count(page) < before  # the moves went somewhere
                if load == LOADS - 1:
                    screenshot(page, "explorer_voila")
                    page.get_by_role("button", name="Use this curated set").click()
                    page.wait_for_function("() => document.body.innerText.includes('Curated set ready')", timeout=60_000)
                    saved = tmp_path / "out" / "explorer" / "curated.csv"
                    assert len(pd.read_csv(saved)) == kept_count(page)
            finally:
                context.close()

    outside = sorted({url for url in requests if not is_local(url)})
    assert not outside, f"the app fetched from outside this machine: {outside}"
    # only the JupyterLab extensions the app uses: plotly's own would send each page another 4.8 MB of plotly.js
    assert not [url for url in requests if "/labextensions/jupyterlab-plotly/" in url]
    print(f"\nexplorer under Voila, {LOADS} fresh pages (load average at the end: {Path('/proc/loadavg').read_text().split()[0]}):"
          f"\n  page ready: first {ready_seconds[0]:.1f} s (waits for the kernel the server started, label model fit"
          f" included), then median "
          f"{statistics.median(ready_seconds[1:]):.1f} s, max {max(ready_seconds[1:]):.1f} s (of which the page's HTML and"
          f" scripts: median {statistics.median(loaded_seconds[1:]):.1f} s)"
          f"\n  slider to every figure: median {statistics.median(update_seconds):.2f} s, "
          f"max {max(update_seconds):.2f} s over {len(update_seconds)} moves")
