"""The review widget: one example at a time, a button per class, keyboard shortcuts, undo.

All logic lives in :class:`workbench.review.ReviewQueue`; this module only shows the
queue's current example and forwards the reviewer's answers to it. Every answer is
committed to the project store before the next example appears.
"""

from __future__ import annotations

import html

import anywidget
import ipywidgets as widgets
import traitlets

from workbench._internal.display import display_text, plain_text, text_html
from workbench.review._queue import ReviewItem, ReviewQueue
from workbench.review._store import SKIP, UNSURE

UNDO, FOLD = "undo", "fold"


class KeyboardShortcuts(anywidget.AnyWidget):
    """Sends the keys in ``shortcut_keys`` pressed inside the enclosing ``.wb-review`` card to Python.

    The card becomes focusable and is marked ``data-lm-suppress-shortcuts``, so
    JupyterLab's own single-key commands (``1`` for a heading cell, ``z`` to undo a
    cell operation...) do not fire while the reviewer works; anywhere else in the
    notebook the keys keep their usual meaning. Held-down keys do not repeat.
    """

    _esm = r"""
    function render({ model, el }) {
      el.classList.add("wb-review-keys");
      const hint = document.createElement("span");
      hint.style.cssText = "font-size: 0.85em; color: var(--jp-ui-font-color2, #666);";
      hint.textContent = model.get("hint");
      el.appendChild(hint);
      model.on("change:hint", () => { hint.textContent = model.get("hint"); });
      const onKey = (event) => {
        if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
        const t = event.target;
        if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
        if (!model.get("shortcut_keys").includes(event.key)) return;
        event.preventDefault();
        event.stopPropagation();
        model.send({ type: "key", key: event.key });
      };
      // The view is rendered before the box inserts it into the page: wait for the card.
      let card = null, frame = null, tries = 0;
      const attach = () => {
        card = el.closest(".wb-review");
        if (!card && tries++ < 300) { frame = requestAnimationFrame(attach); return; }
        card = card || el;
        card.setAttribute("data-lm-suppress-shortcuts", "true");
        if (!card.hasAttribute("tabindex")) card.setAttribute("tabindex", "0");
        card.addEventListener("keydown", onKey);
      };
      attach();
      return () => {
        if (frame !== null) cancelAnimationFrame(frame);
        if (card) card.removeEventListener("keydown", onKey);
      };
    }
    export default { render };
    """
    shortcut_keys = traitlets.List(traitlets.Unicode()).tag(sync=True)
    hint = traitlets.Unicode("").tag(sync=True)

    def __init__(self, keys, hint: str, on_key):
        super().__init__(shortcut_keys=list(keys), hint=hint)
        self._on_key = on_key
        self.on_msg(self._handle_message)

    def _handle_message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "key":
            self._on_key(content.get("key"))


def _bar(name: str, p: float, strong: bool) -> str:
    weight = "bold" if strong else "normal"
    return (
        "<div style='display:flex;align-items:center;gap:6px;line-height:1.4'>"
        f"<span style='width:7em;font-weight:{weight}'>{html.escape(name)}</span>"
        f"<span style='display:inline-block;background:#4c78a8;height:0.8em;width:{160 * p:.0f}px'></span>"
        f"<span style='font-variant-numeric:tabular-nums'>{p:.3f}</span></div>"
    )


class ReviewWidget(widgets.VBox):
    """Review the queue's examples one at a time.

    Shows the text (folded past ``fold_at`` characters), the LF votes, the model's
    probabilities and the ``n_neighbours`` most similar examples already labeled;
    a button per class plus Skip, Unsure and Undo, each with a key (``1``..``9`` for
    the classes, ``s``, ``u``, ``z``; ``f`` folds or unfolds long text); a progress
    bar of the session. Everything can be driven from Python too:
    :meth:`decide`, :meth:`skip`, :meth:`unsure`, :meth:`undo`, :meth:`press`.

    Examples
    --------
    >>> w = ReviewWidget(ReviewQueue(ds.train, P, store=store, reviewer="ana", protected=ds))  # doctest: +SKIP
    >>> w  # doctest: +SKIP
    >>> w.decide("spam")  # doctest: +SKIP
    """

    def __init__(self, queue: ReviewQueue, *, fold_at: int = 400, n_neighbours: int = 3):
        if len(queue.class_names) > 9:
            raise ValueError(f"the review widget has keys for up to 9 classes, the task has {len(queue.class_names)}")
        self.queue, self.fold_at, self.n_neighbours = queue, fold_at, n_neighbours
        self.item: ReviewItem | None = None
        self.actions: dict[str, int | str] = {str(i + 1): i for i in range(len(queue.class_names))}
        self.actions.update({"s": SKIP, "u": UNSURE, "z": UNDO, "f": FOLD})

        self.header = widgets.HTML()
        self.text = widgets.HTML(layout=widgets.Layout(max_width="60em"))
        self.expand = widgets.ToggleButton(description="Show full text [f]", icon="angle-down",
                                           layout=widgets.Layout(width="auto"))
        self.proba = widgets.HTML()
        self.votes = widgets.HTML()
        self.neighbours = widgets.HTML()
        self.class_buttons = [
            widgets.Button(description=f"{name} [{i + 1}]", button_style="primary", tooltip=f"label as {name}")
            for i, name in enumerate(queue.class_names)
        ]
        self.skip_button = widgets.Button(description="Skip [s]", tooltip="decide later / not for me")
        self.unsure_button = widgets.Button(description="Unsure [u]", button_style="warning", tooltip="cannot tell")
        self.undo_button = widgets.Button(description="Undo [z]", icon="undo", tooltip="withdraw the last decision")
        self.progress = widgets.IntProgress(min=0, max=queue.size, description="Session", bar_style="info")
        self.progress_label = widgets.Label()
        self.status = widgets.HTML()
        self.shortcuts = KeyboardShortcuts(
            self.actions,
            "Keys (click the card first): "
            + ", ".join(f"{i + 1} {n}" for i, n in enumerate(queue.class_names))
            + ", s skip, u unsure, z undo, f fold",
            self.press,
        )

        for label, button in enumerate(self.class_buttons):
            button.on_click(lambda _b, label=label: self.decide(label))
        self.skip_button.on_click(lambda _b: self.skip())
        self.unsure_button.on_click(lambda _b: self.unsure())
        self.undo_button.on_click(lambda _b: self.undo())
        self.expand.observe(lambda _c: self._show_text(), names="value")

        details = widgets.HBox([
            widgets.VBox([widgets.HTML("<b>Model probability</b>"), self.proba], layout=widgets.Layout(margin="0 3em 0 0")),
            widgets.VBox([widgets.HTML("<b>LF votes</b>"), self.votes]),
        ])
        super().__init__(
            children=[
                self.header, self.text, self.expand, details,
                widgets.HTML("<b>Nearest labeled examples</b>"), self.neighbours,
                widgets.HBox([*self.class_buttons, self.skip_button, self.unsure_button, self.undo_button]),
                widgets.HBox([self.progress, self.progress_label]), self.status, self.shortcuts,
            ],
            layout=widgets.Layout(border="1px solid #ddd", padding="10px"),
        )
        self.add_class("wb-review")
        self._refresh()

    # -- actions ------------------------------------------------------------------

    def decide(self, label: int | str) -> None:
        """Record ``label`` (class id or name, ``"skip"``, ``"unsure"``) for the shown example."""
        item = self.item
        if item is None:
            self._say("Nothing to decide: the session is complete.", error=True)
            return
        try:
            decision_id = self.queue.decide(label, example_id=item.example_id)
        except Exception as exc:  # show it: a widget callback's exception is otherwise lost
            self._say(f"Not saved: {exc}", error=True)
            return
        shown = label if isinstance(label, str) else self.queue.class_names[label]
        self._refresh()
        self._say(f"Saved decision #{decision_id}: {item.example_id} → {shown}")

    def skip(self) -> None:
        self.decide(SKIP)

    def unsure(self) -> None:
        self.decide(UNSURE)

    def undo(self) -> None:
        """Withdraw the session's last decision and show that example again."""
        try:
            restored = self.queue.undo()
        except Exception as exc:
            self._say(f"Undo failed: {exc}", error=True)
            return
        self._refresh()
        self._say(f"Undone: {restored.example_id} is back." if restored else "Nothing to undo in this session.")

    def press(self, key: str) -> None:
        """Act on a keyboard shortcut (what the browser sends when a key is pressed on the card)."""
        action = self.actions.get(key)
        if action is None:
            return
        if action == UNDO:
            self.undo()
        elif action == FOLD:
            self.expand.value = not self.expand.value
        else:
            self.decide(action)

    # -- display ------------------------------------------------------------------

    @property
    def status_text(self) -> str:
        """The last status message as plain text (``status`` is an HTML widget)."""
        return plain_text(self.status.value)

    def _say(self, message: str, error: bool = False) -> None:
        color = "#b00020" if error else "#2e7d32"
        self.status.value = f"<span style='color:{color}'>{html.escape(message)}</span>"

    def _refresh(self) -> None:
        q = self.queue
        self.item = q.current
        self.progress.value = q.done
        self.progress_label.value = f"{q.done} / {q.size} decided"
        open_ = self.item is not None
        for button in (*self.class_buttons, self.skip_button, self.unsure_button):
            button.disabled = not open_
        self.undo_button.disabled = q.done == 0
        self.expand.value = False
        if not open_:
            why = "Session complete" if q.done >= q.size else "Nothing left to review"
            self.header.value = (f"<h4>{why}: {q.done} decisions saved to "
                                 f"<code>{html.escape(str(q.store.path))}</code></h4>")
            for w in (self.text, self.proba, self.votes, self.neighbours):
                w.value = ""
            self.expand.layout.display = "none"
            return
        item = self.item
        predicted = q.class_names[item.predicted]
        self.header.value = (
            f"<h4 style='margin:0'>Example {q.done + 1} of {q.size} · <code>{html.escape(item.example_id)}</code>"
            f" · model says <b>{html.escape(predicted)}</b> ({item.proba.max():.2f})</h4>"
        )
        self._show_text()
        self.proba.value = "".join(
            _bar(name, float(p), i == item.predicted) for i, (name, p) in enumerate(zip(q.class_names, item.proba))
        )
        if q.L is None:
            self.votes.value = "<i>no label matrix given</i>"
        elif not item.lf_votes:
            self.votes.value = f"<i>none of the {len(q.lf_names)} LFs voted</i>"
        else:
            rows = "".join(
                f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(q.class_names[v])}</td></tr>"
                for name, v in item.lf_votes.items()
            )
            self.votes.value = f"<table>{rows}</table><small>{len(item.lf_votes)} of {len(q.lf_names)} LFs voted</small>"
        self._show_neighbours(item)

    def _show_text(self) -> None:
        if self.item is None:
            return
        text = display_text(self.item.text)  # for display only: the queue and the store keep the raw text
        long = len(text) > self.fold_at
        self.expand.layout.display = None if long else "none"
        self.expand.description = "Fold text [f]" if self.expand.value else f"Show full text, {len(text)} characters [f]"
        self.text.value = text_html(self.item.text, None if self.expand.value else self.fold_at, tag="div",
                                    style="white-space:pre-wrap;font-size:1.1em;padding:8px;background:#f6f8fa;border-radius:4px")

    def _show_neighbours(self, item: ReviewItem) -> None:
        near = self.queue.neighbours(item, k=self.n_neighbours)
        near = near[near["similarity"] > 0]
        if near.empty:
            self.neighbours.value = "<i>no labeled example shares a word with this one</i>"
            return
        rows = "".join(
            f"<tr><td><b>{html.escape(r.label)}</b></td><td>{r.similarity:.2f}</td><td>{html.escape(r.source)}</td>"
            f"<td>{text_html(r.text, 140)}</td></tr>"
            for r in near.itertuples()
        )
        head = "".join(f"<th style='text-align:left;padding-right:1em'>{h}</th>" for h in ("label", "similarity", "from", "text"))
        self.neighbours.value = f"<table><tr>{head}</tr>{rows}</table>"
