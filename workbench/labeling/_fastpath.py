"""The local engine's text fast path for keyword/regex builder LFs.

``apply_lfs`` hands every ``keyword_lf``/``regex_lf`` LF to :class:`TextFastPath`, which gets the
votes the LF itself would give, faster: it makes the text column ASCII once, so that pyarrow's RE2
engine (20-40x faster than Python's ``re``) can run the LFs on nearly every row, and the applier runs
these LFs on several threads at once (RE2 releases the GIL).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench._internal.validation import ABSTAIN, label_dtype
from workbench.labeling._lf import builder_regex
from workbench.labeling._regex import RE2Form, re2_form, rewrite_non_ascii

#: Builders whose LFs vote row by row from one text column, so they may run on any subset of rows.
TEXT_BUILDERS = ("keyword_lf", "regex_lf")


def text_column_of(lf: Any) -> str | None:
    """The text column a keyword/regex builder LF reads; ``None`` for any other LF."""
    return lf.params.get("text_column") if getattr(lf, "builder", None) in TEXT_BUILDERS else None


class TextFastPath:
    """One text column made ASCII once, so that builder LFs run on pyarrow's RE2 and vote as they would.

    A builder LF on its own runs RE2 on the ASCII rows only (:func:`workbench.labeling.search`);
    in comments, 5-10% of rows hold an emoji or an accent and would all go through Python's
    ``re``. Here those rows are rewritten once, character by character
    (:func:`workbench.labeling.rewrite_non_ascii`), and each LF's regex, in its RE2 form
    (:func:`workbench.labeling.re2_form`), runs on the ASCII rows and the rewritten ones. Only the
    rows its pattern could tell from their rewrite run again as they are, with the LF itself:

    - ``placeholder_blind`` patterns (e.g. every ASCII ``keyword_lf``): none, or under
      IGNORECASE the rows holding İ, ı, ſ or K;
    - ``nul_blind`` patterns: the rows holding a non-ASCII word character;
    - other patterns: every non-ASCII row; patterns with no RE2 form (lookarounds,
      backreferences) run as they are on every row.

    Below ``MIN_ROWS`` rows LFs run as they are, unless ``rewrite=True`` (worth it when the
    path is kept for many LFs, as the studio does).

    Examples
    --------
    >>> from workbench.labeling._lf import keyword_lf
    >>> text = pd.Series(["sub now ❤", "café sub", "nothing"] * 10_000, name="text")
    >>> TextFastPath(text).run(keyword_lf("kw_sub", ["sub"], 1))[:3].tolist()
    [1, 1, -1]
    """

    MIN_ROWS = 20_000

    def __init__(self, text: pd.Series, rewrite: bool | None = None):
        self.text = text.astype("string").fillna("")  # what the builders read (see workbench.labeling)
        self.direct = len(self.text) < self.MIN_ROWS if rewrite is None else not rewrite
        if self.direct:
            return
        self.arr = pa.chunked_array(pa.array(self.text.array))
        self.non_ascii = np.flatnonzero(~np.asarray(pc.string_is_ascii(self.arr), dtype=bool))
        self._lock = threading.Lock()
        self._rewritten: pa.Array | None = None
        self.slow_rows: dict[str, np.ndarray] = {}  # filled by prepare()

    def prepare(self) -> None:
        """Rewrite the non-ASCII rows, if not done yet (thread-safe; ``run`` calls it when it needs them).

        The applier calls it while its threads already match the LFs on the original column.
        """
        with self._lock:
            if self._rewritten is not None:
                return
            others = self.non_ascii
            rewritten, has_word, has_confusable = rewrite_non_ascii(self.arr.take(others))
            # Rows that a pattern may tell from their rewrite (see the class docstring).
            self.slow_rows = {"confusable": others[has_confusable], "word": others[has_word], "non_ascii": others,
                              "none": others[:0]}
            self._rewritten = rewritten

    def route(self, lf: Any) -> tuple[RE2Form | None, str]:
        """The LF's RE2 form (None: it has none) and which ``slow_rows`` it must read as they are."""
        form = re2_form(builder_regex(lf))
        if form is None:
            return None, "all"
        if form.placeholder_blind:
            return form, "confusable" if form.ignorecase else "none"
        return form, "word" if form.nul_blind else "non_ascii"

    def run(self, lf: Any) -> np.ndarray:
        """``lf``'s votes on the column (``lf`` must be a builder LF reading this column)."""
        name = lf.params["text_column"]
        form, slow = (None, "all") if self.direct else self.route(lf)
        if form is not None:
            try:  # every row as it is; the non-ASCII ones are overwritten below
                hits = np.asarray(pc.match_substring_regex(self.arr, form.pattern), dtype=bool)
                if len(self.non_ascii):
                    self.prepare()
                    hits[self.non_ascii] = np.asarray(pc.match_substring_regex(self._rewritten, form.pattern), dtype=bool)
            except pa.ArrowInvalid:  # beyond RE2's limits (program size)
                slow = "all"
        if slow == "all":
            return np.asarray(lf(self.text.to_frame(name)))
        label = lf.params["label"]
        out = np.where(hits, label, ABSTAIN).astype(label_dtype(label + 1))
        rows = self.slow_rows[slow] if len(self.non_ascii) else self.non_ascii
        if len(rows):
            out[rows] = lf(self.text.iloc[rows].to_frame(name))
        return out


#: Rows per partition when a pandas DataFrame is split for the cluster.
