"""The threshold explorer: its Voila page load, part by part, and its slider-to-figure work in the kernel.

Page load (``apps/explorer.ipynb`` served as ``make explorer`` serves it, loaded in fresh
Chromium pages through Playwright): where the time from navigation to the three figures drawn
goes. The Voila server's start (once, before any page); the kernel's start and each cell of the
app notebook, run in a fresh kernel outside Voila (first with an empty label-model cache, then
with it filled, as every later page finds it); then in the browser, per page: the HTML (Voila
runs the notebook before sending the cells' output, unless a pre-executed kernel is waiting),
plotly.js run, the first widget drawn, every figure drawn; and how long the page's main thread
was busy (Chromium's own count: less sensitive to the machine's load than the times).

Slider moves: on the bundled pool (1,186 comments, the app's label model), for a run of threshold values:
ours, one refresh (curate, the three figures built without a template, three ``PlotlyView``
updates) against the baseline the explorer had before, measured in the same run: the same
figures built with the template and wrapped in three new plotly ``FigureWidget``s per refresh.
Bytes per update: the figures' JSON (ours) against the three widgets' state (each
``FigureWidget`` carries plotly.js as its ``_esm``). The browser side (page ready, slider to
every figure drawn) is also printed by ``tests/ui/test_explorer_browser.py`` (run with ``-s``).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import plotly.graph_objects as go
from nbclient import NotebookClient

from bench import ratio, stopwatch, write_results
from workbench.curate import class_shares
from workbench.data import load_youtube_spam
from workbench.data.youtube_lfs import YOUTUBE_LFS
from workbench.generate import HyperLabelModel
from workbench.labeling import apply_lfs, covered
from workbench.plots import TEMPLATE
from workbench.plots.filter import threshold_curve_figure, threshold_histogram
from workbench.ui.explorer import ThresholdExplorer, label_model_proba

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "apps" / "explorer.ipynb"
PAGE_LOADS = 5
# Page milestones, in ms since navigation started (the page's own clock), noted by a script
# that runs in every new document before the page's own: polled every 10 ms.
MILESTONES = """(() => {
    const ready = %s;
    const seen = window.__milestones = {};
    const poll = setInterval(() => {
        const now = performance.now();
        if (!seen.widget && document.querySelector('.widget-slider')) seen.widget = now;
        if (!seen.plotly && window.Plotly) seen.plotly = now;
        if (document.body && ready() === true) { seen.ready = now; clearInterval(poll); }
    }, 10);
})();"""


def notebook_parts(notebook: Path) -> dict[str, float]:
    """Seconds for a fresh kernel's start and for each code cell (named by its first line of code)."""
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}})
    started = time.perf_counter()
    with client.setup_kernel():
        parts = {"kernel start": time.perf_counter() - started}
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                with stopwatch() as clock:
                    client.execute_cell(cell, index)
                first = next(line for line in cell.source.splitlines() if not line.startswith("#"))
                parts[f"cell {index}: {first}"] = clock["seconds"]
    return parts


def page_loads(notebook: Path, loads: int) -> dict:
    """Start Voila on ``notebook``, then load it in ``loads`` fresh pages: seconds for each part."""
    from tests._browser import EXPLORER_READY, chromium_page, voila

    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        with voila(notebook, Path(workdir)) as app:
            server_start = time.perf_counter() - started
            pages = []
            with chromium_page() as first_page:
                browser = first_page.context.browser
                for _ in range(loads):
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    context.add_init_script(MILESTONES % EXPLORER_READY)
                    page = context.new_page()
                    cdp = context.new_cdp_session(page)
                    cdp.send("Performance.enable")
                    page.goto(app.url(), timeout=300_000)
                    page.wait_for_function("() => window.__milestones.ready", timeout=300_000, polling=50)
                    seen = page.evaluate("""() => {
                        const nav = performance.getEntriesByType('navigation')[0];
                        return {...window.__milestones, first_byte: nav.responseStart, html: nav.responseEnd};
                    }""")
                    # the page's own work on its main thread (scripts, layout, paint), less sensitive to the
                    # machine's load than the wall-clock milestones
                    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                    pages.append({**{name: ms / 1000 for name, ms in seen.items()},
                                  "main_thread_busy": metrics["TaskDuration"], "scripts": metrics["ScriptDuration"]})
                    context.close()
                    time.sleep(3)  # a person looks at the page before reloading it
    return {"server_start": server_start, "pages": pages}


THRESHOLDS = [0.70, 0.75, 0.80, 0.85, 0.90, 0.72, 0.78, 0.83, 0.88, 0.95]


def old_refresh(explorer: ThresholdExplorer) -> list[go.FigureWidget]:
    """What a refresh cost before: figures with the template, each in a new FigureWidget."""
    state = explorer._compute()
    lines = {"threshold": explorer.threshold.value}
    curve = threshold_curve_figure(explorer.curve, state["point"], labeled_name=explorer.labeled_name, template=TEMPLATE)
    histogram = threshold_histogram(explorer.confidence, state["status"], lines, low=0.5, template=TEMPLATE)
    kept = explorer._kept_set_figure(state).update_layout(template=TEMPLATE)
    return [go.FigureWidget(f) for f in (curve, histogram, kept)]


def page_load_parts() -> dict:
    """The page load's parts (see the module's docstring), with an empty ``$WORKBENCH_OUT`` at the start."""
    cold, warm = notebook_parts(APP), notebook_parts(APP)
    loads = page_loads(APP, PAGE_LOADS)
    pages = loads["pages"]
    later = {part: statistics.median(page[part] for page in pages[1:]) for part in pages[0]}
    label_model = next(name for name in cold if "label_model_proba" in name)
    print(f"page load under Voila ({PAGE_LOADS} fresh pages, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} shared cores):")
    print(f"  server start (once): {loads['server_start']:.1f} s")
    print("  without a kernel that ran the notebook in advance, a page also waits for: "
          + ", ".join(f"{name[:40]} {seconds:.2f} s" for name, seconds in warm.items())
          + f" (label model with an empty cache: {cold[label_model]:.2f} s)")
    print(f"  first page (waits for the kernel the server started): ready {pages[0]['ready']:.1f} s")
    print(f"  later pages, median: HTML {later['html']:.2f} s, plotly.js run {later['plotly']:.2f} s, first widget "
          f"{later['widget']:.2f} s, every figure drawn (ready) {later['ready']:.2f} s "
          f"(all: {', '.join(format(page['ready'], '.1f') for page in pages[1:])}); the page's main thread busy "
          f"{later['main_thread_busy']:.2f} s, running scripts {later['scripts']:.2f} s of it")
    return {"server_start_seconds": loads["server_start"], "kernel_parts_cold_seconds": cold,
            "kernel_parts_cached_seconds": warm, "pages_seconds": pages, "page_ready_seconds_median": later["ready"],
            "page_parts_seconds_median": later}


def main() -> None:
    with tempfile.TemporaryDirectory() as out:
        # the Voila kernels and the notebook's kernels import this checkout and write to a fresh out/
        os.environ["WORKBENCH_OUT"] = out
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        page_load = page_load_parts()
        ds = load_youtube_spam()
        L = {split: apply_lfs(ds[split], YOUTUBE_LFS, cardinality=ds.cardinality) for split in ("train", "valid", "seed")}
        proba = label_model_proba(HyperLabelModel(cardinality=ds.cardinality), L["train"], {"valid": L["valid"]},
                                  seed=(L["seed"], ds.seed["label"]), cache_dir=Path(out) / "explorer")
    explorer = ThresholdExplorer(ds.train, proba["train"], valid_proba=proba["valid"], valid_labels=ds.valid["label"],
                                 class_names=ds.class_names, abstained=~covered(L["train"]),
                                 target=class_shares(ds.dev["label"], ds.cardinality), threshold=0.7, labeled_name="valid")
    ours, baseline, sent, old_sent = [], [], [], []
    for t in THRESHOLDS:
        with stopwatch() as clock:
            explorer.set(threshold=t)
        ours.append(clock["seconds"])
        sent.append(sum(len(view.figure) for view in explorer.views.values()))
        with stopwatch() as clock:
            widgets = old_refresh(explorer)
        baseline.append(clock["seconds"])
        old_sent.append(sum(len(json.dumps(w.get_state(), default=str)) for w in widgets))
        for widget in widgets:
            widget.close()
    results = {
        "pool_rows": len(ds.train), **page_load,
        "refresh_seconds_median": statistics.median(ours), "baseline_refresh_seconds_median": statistics.median(baseline),
        "refresh_speedup": ratio(statistics.median(baseline), statistics.median(ours)),
        "bytes_per_update": statistics.median(sent), "baseline_bytes_per_update": statistics.median(old_sent),
    }
    print(f"kernel work per slider move: {results['refresh_seconds_median']:.3f} s (FigureWidgets before: "
          f"{results['baseline_refresh_seconds_median']:.3f} s, {results['refresh_speedup']:.1f}x)")
    print(f"sent to the page per move: {results['bytes_per_update'] / 1e3:.0f} kB (FigureWidgets before: "
          f"{results['baseline_bytes_per_update'] / 1e6:.1f} MB)")
    write_results("explorer", results)


if __name__ == "__main__":
    main()
