"""The threshold explorer's slider-to-figure work in the kernel, and what each update sends the page.

On the bundled pool (1,186 comments, Snorkel's label model), for a run of threshold values:
ours, one refresh (curate, the three figures built without a template, three ``PlotlyView``
updates) against the baseline the explorer had before, measured in the same run: the same
figures built with the template and wrapped in three new plotly ``FigureWidget``s per refresh.
Bytes per update: the figures' JSON (ours) against the three widgets' state (each
``FigureWidget`` carries plotly.js as its ``_esm``). The browser side (page ready, slider to
every figure drawn) is measured by ``tests/ui/test_explorer_browser.py`` (run with ``-s``).
"""

from __future__ import annotations

import json
import statistics
import tempfile

import plotly.graph_objects as go

from bench import ratio, stopwatch, write_results
from workbench.curate import class_shares
from workbench.data import load_youtube_spam
from workbench.data.youtube_lfs import YOUTUBE_LFS
from workbench.generate import SnorkelLabelModel
from workbench.labeling import apply_lfs, covered
from workbench.plots import TEMPLATE
from workbench.plots.filter import kept_set_figure, threshold_curve_figure, threshold_histogram
from workbench.ui.explorer import ThresholdExplorer, label_model_proba

THRESHOLDS = [0.70, 0.75, 0.80, 0.85, 0.90, 0.72, 0.78, 0.83, 0.88, 0.95]


def old_refresh(explorer: ThresholdExplorer) -> list[go.FigureWidget]:
    """What a refresh cost before: figures with the template, each in a new FigureWidget."""
    state = explorer._compute()
    lines = {"threshold": explorer.threshold.value}
    curve = threshold_curve_figure(explorer.curve, state["point"], labeled_name=explorer.labeled_name, template=TEMPLATE)
    histogram = threshold_histogram(explorer.confidence, state["status"], lines, low=0.5, template=TEMPLATE)
    kept = explorer._kept_set_figure(state).update_layout(template=TEMPLATE)
    return [go.FigureWidget(f) for f in (curve, histogram, kept)]


def main() -> None:
    ds = load_youtube_spam()
    L_train, L_valid = apply_lfs(ds.train, YOUTUBE_LFS, cardinality=ds.cardinality), apply_lfs(ds.valid, YOUTUBE_LFS, cardinality=ds.cardinality)
    with tempfile.TemporaryDirectory() as cache:
        with stopwatch() as cold:
            proba = label_model_proba(SnorkelLabelModel(cardinality=ds.cardinality), L_train, {"valid": L_valid}, cache_dir=cache)
        with stopwatch() as warm:
            label_model_proba(SnorkelLabelModel(cardinality=ds.cardinality), L_train, {"valid": L_valid}, cache_dir=cache)
    explorer = ThresholdExplorer(ds.train, proba["train"], valid_proba=proba["valid"], valid_labels=ds.valid["label"],
                                 class_names=ds.class_names, abstained=~covered(L_train),
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
        "pool_rows": len(ds.train),
        "label_model_fit_seconds": cold["seconds"], "label_model_cached_seconds": warm["seconds"],
        "refresh_seconds_median": statistics.median(ours), "baseline_refresh_seconds_median": statistics.median(baseline),
        "refresh_speedup": ratio(statistics.median(baseline), statistics.median(ours)),
        "bytes_per_update": statistics.median(sent), "baseline_bytes_per_update": statistics.median(old_sent),
    }
    print(f"label model: fit {cold['seconds']:.2f} s, from the cache {warm['seconds']:.3f} s")
    print(f"kernel work per slider move: {results['refresh_seconds_median']:.3f} s (FigureWidgets before: "
          f"{results['baseline_refresh_seconds_median']:.3f} s, {results['refresh_speedup']:.1f}x)")
    print(f"sent to the page per move: {results['bytes_per_update'] / 1e3:.0f} kB (FigureWidgets before: "
          f"{results['baseline_bytes_per_update'] / 1e6:.1f} MB)")
    write_results("explorer", results)


if __name__ == "__main__":
    main()
