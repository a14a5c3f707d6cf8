"""A plotly figure as a small anywidget of our own, redrawn in place with ``Plotly.react``.

Why not plotly's ``FigureWidget``: since plotly 6 every ``FigureWidget`` carries the whole
plotly.js bundle (about 5 MB) in its widget state, so each figure made the page receive and
evaluate 5 MB of JavaScript (the threshold explorer made three new ones per slider move:
2.8-3.9 s per update), and under Voila 0.5 a ``FigureWidget`` present at page load could stay
frozen. This widget's module is a few lines. plotly.js (the copy installed with the plotly
package, never a CDN) goes to the page once and every view on the page uses it: in a Voila app
with the page's HTML (:func:`plotly_js_html`), elsewhere asked from the kernel by the first view
that needs it. A figure change sends only the figure's JSON.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import anywidget
import plotly.graph_objects as go
import plotly.io as pio
import traitlets
from IPython.display import HTML
from plotly.io.json import to_json, to_json_plotly

_ESM = r"""
const PENDING = "__workbench_plotly_js__";

// plotly.js for the whole page: window.Plotly if something already loaded it, else asked
// from the kernel once (the first view to need it asks; the others wait on the same promise).
function loadPlotly(model) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!globalThis[PENDING]) {
    globalThis[PENDING] = new Promise((resolve, reject) => {
      model.on("msg:custom", async (msg) => {
        if (msg.type !== "plotly.js") return;
        const url = URL.createObjectURL(new Blob([msg.source], { type: "text/javascript" }));
        try { await import(url); resolve(window.Plotly); } catch (e) { reject(e); } finally { URL.revokeObjectURL(url); }
      });
      model.send({ type: "plotly.js?" });
    });
  }
  return globalThis[PENDING];
}

function render({ model, el }) {
  const div = document.createElement("div");
  div.className = "workbench-plotly";
  el.appendChild(div);
  const template = JSON.parse(model.get("template") || "{}");
  let busy = false, again = false;
  // Draws the latest figure; changes arriving during a draw are drawn once it ends (latest wins).
  async function draw() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const Plotly = await loadPlotly(model);
      do {
        again = false;
        const figure = JSON.parse(model.get("figure"));
        const layout = figure.layout || {};
        if (!layout.template || !Object.keys(layout.template).length) layout.template = template;
        await Plotly.react(div, figure.data || [], layout, { displaylogo: false });
        div.dataset.revision = String(model.get("revision"));
      } while (again);
    } catch (e) {
      div.textContent = "Could not draw this figure: " + e;
    } finally {
      busy = false;
    }
  }
  // every show() bumps the revision, even when the figure itself did not change
  model.on("change:revision", draw);
  draw();
  return () => { model.off("change:revision", draw); if (window.Plotly) window.Plotly.purge(div); };
}

export default { render };
"""


@cache
def _plotly_js() -> str:
    return (files("plotly") / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def plotly_js_html() -> HTML:
    """plotly.js as an inline ``<script>``, for a Voila app's notebook to display before its widgets.

    Marked (output metadata ``{"workbench": "page"}``) for the ``workbench`` Voila template, which
    puts it into the page's HTML as it is: the browser runs it while parsing the page, before
    Voila's own scripts start, and every :class:`PlotlyView` finds ``window.Plotly`` and draws at
    once. Without it the first view asks the kernel for plotly.js once the page is up: a 4.8 MB
    message through the kernel's channel, then compiled from a blob, after everything else (most
    of the explorer app's page-ready time).
    """
    return HTML(f"<script>{_plotly_js()}</script>", metadata={"workbench": "page"})


class PlotlyView(anywidget.AnyWidget):
    """Shows one plotly figure; :meth:`show` replaces it in place.

    Attributes
    ----------
    figure : str
        The figure as plotly JSON (what the page draws).
    template : str
        A plotly template (as JSON) for figures that carry none: building a figure with an
        empty template and styling it here saves the kernel most of a figure's build time.
    revision : int
        How many figures were shown; the page marks each drawn figure with it
        (``data-revision`` on the ``.workbench-plotly`` element), so a test can tell the
        latest figure from an earlier one.
    """

    _esm = _ESM
    figure = traitlets.Unicode("{}").tag(sync=True)
    template = traitlets.Unicode("").tag(sync=True)
    revision = traitlets.Int(0).tag(sync=True)

    def __init__(self, figure: go.Figure | None = None, *, template: str | None = None, **kwargs):
        """``template`` names a plotly template (``"plotly_white"``) for figures built without one."""
        super().__init__(**kwargs)
        if template is not None:
            self.template = to_json_plotly(pio.templates[template].to_plotly_json())
        self.on_msg(self._on_message)
        if figure is not None:
            self.show(figure)

    def show(self, figure: go.Figure) -> None:
        """Draw ``figure`` in place of the current one (one message to the page)."""
        with self.hold_sync():
            self.revision += 1
            self.figure = to_json(figure, validate=False)

    def _on_message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "plotly.js?":
            self.send({"type": "plotly.js", "source": _plotly_js()})
