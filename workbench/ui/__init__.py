"""Widgets over the pure layer: the modules ``explorer``, ``studio`` and ``review``; here, what an app needs besides.

Names are imported when first asked for: importing a widget module should not pay for the others.
"""

__all__ = ["plotly_js_html"]


def __getattr__(name: str):
    if name == "plotly_js_html":
        from workbench.ui._plotly import plotly_js_html

        return plotly_js_html
    raise AttributeError(f"module 'workbench.ui' has no attribute {name!r}")
