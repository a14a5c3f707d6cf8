"""The one display rule for example text in widgets (studio, review, explorer).

Comments scraped from the web carry HTML (``&#39;``, ``<br />``, ``<a href=...>``). For
display only, entities are decoded and tags removed (``<br>`` becomes a line break); the data
keeps its raw text. Long texts are cut to ``width`` characters with the full text in the
element's ``title`` (shown on hover). Widgets that show a status as HTML also offer it as
plain text through :func:`plain_text`, so printing a status never prints markup.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

from workbench._internal.text import _HTML_TAG

__all__ = ["display_text", "plain_text", "text_html"]

_BREAK = re.compile(r"(?i)<br\s*/?>")
_TAG = re.compile(_HTML_TAG)
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")


def _as_str(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def display_text(value: Any, width: int | None = None) -> str:
    """Plain text of a raw example text for display: entities decoded, tags removed, cut to ``width``.

    Line breaks (``<br>`` or newlines) are kept as single newlines, other runs of whitespace
    become one space; a cut text ends with "…" and has at most ``width`` characters.

    Examples
    --------
    >>> display_text("I&#39;m here<br />check <a href='x'>this</a>")
    "I'm here\\ncheck this"
    >>> display_text("a very long comment", width=8)
    'a very…'
    """
    text = _BREAK.sub("\n", _as_str(value))
    # Tags first, then entities: an escaped "&lt;b&gt;" is text the author typed, not markup.
    text = html.unescape(_TAG.sub(" ", text))
    text = _BLANK_LINES.sub("\n", _SPACES.sub(" ", text)).strip()
    if width is not None and len(text) > width:
        text = text[: max(width - 1, 0)].rstrip() + "…"
    return text


def text_html(value: Any, width: int | None = None, *, tag: str = "span", style: str | None = None) -> str:
    """Safe HTML showing :func:`display_text` of ``value``; when cut, the full text is the hover title.

    ``value`` is the raw text (decoding twice would turn a typed "&amp;lt;" into "<");
    ``style`` is the element's CSS.

    Examples
    --------
    >>> text_html("Tom &amp; Jerry <b>rock</b>")
    '<span>Tom &amp; Jerry rock</span>'
    >>> text_html("0123456789", width=5)
    '<span title="0123456789">0123…</span>'
    """
    full = display_text(value)
    shown = display_text(value, width)
    title = f' title="{html.escape(full, quote=True)}"' if shown != full else ""
    css = f' style="{html.escape(style, quote=True)}"' if style else ""
    return f"<{tag}{css}{title}>{html.escape(shown, quote=False)}</{tag}>"


def plain_text(markup: str) -> str:
    """The text of an HTML fragment a widget shows (a status line): tags dropped, entities decoded.

    Examples
    --------
    >>> plain_text("<span class='x'><b>3</b> LFs &middot; ok</span>")
    '3 LFs · ok'
    """
    return display_text(markup)
