"""The explorer's plotly widget, from Python: what it sends the page, and when."""

import json

import plotly.graph_objects as go

from workbench.ui._plotly import PlotlyView


def test_show_sends_the_figure_json_and_bumps_the_revision():
    view = PlotlyView(go.Figure(go.Bar(x=["a"], y=[1]), layout=dict(title="first")), template="plotly_white")
    assert view.revision == 1 and json.loads(view.figure)["layout"]["title"]["text"] == "first"
    assert json.loads(view.template)["layout"]["paper_bgcolor"] == "white"  # styled in the page, not per figure
    view.show(go.Figure(layout=dict(title="second")))
    assert view.revision == 2 and json.loads(view.figure)["layout"]["title"]["text"] == "second"
    assert len(view._esm) < 10_000  # the module is small: plotly.js is not in the widget's state


def test_plotly_js_is_sent_once_asked_and_is_the_installed_copy(monkeypatch):
    view = PlotlyView()
    sent = []
    monkeypatch.setattr(view, "send", lambda content, buffers=None: sent.append(content))
    view._handle_custom_msg({"type": "something else"}, [])
    assert sent == []
    view._handle_custom_msg({"type": "plotly.js?"}, [])
    (message,) = sent
    assert message["type"] == "plotly.js" and "window.Plotly" in message["source"] and len(message["source"]) > 1_000_000
    assert "cdn." not in message["source"][:2000]


def test_plotly_js_html_is_the_installed_copy_as_one_inline_script_marked_for_the_page():
    from importlib.resources import files

    from workbench.ui import plotly_js_html

    html = plotly_js_html()
    installed = (files("plotly") / "package_data" / "plotly.min.js").read_text(encoding="utf-8")
    assert html.data == f"<script>{installed}</script>"
    # the mark the workbench Voila template looks for to put it in the page's HTML as it is
    assert html._repr_html_()[1] == {"workbench": "page"}
    assert "</script" not in installed.lower()  # nothing inside could end the script early
