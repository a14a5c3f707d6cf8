"""What a checker returns: right or wrong, and why, printed in the notebook."""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True, repr=False)
class Feedback:
    """The verdict on one exercise answer.

    ``passed`` is None while the exercise is unanswered (the notebook still runs top to
    bottom); ``bool(feedback)`` is True only for a right answer, so a solution can
    ``assert check_...(...)``.
    """

    exercise: str
    passed: bool | None
    message: str

    def __bool__(self) -> bool:
        return bool(self.passed)

    @property
    def verdict(self) -> str:
        return {True: "right", False: "not yet", None: "unanswered"}[self.passed]

    def __str__(self) -> str:
        mark = {True: "✓", False: "✗", None: "…"}[self.passed]
        return f"{mark} {self.exercise}: {self.verdict}. {self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = {True: "#1a7f37", False: "#b42318", None: "#6b7280"}[self.passed]
        return (f'<div style="border-left:4px solid {colour};padding:4px 10px"><b style="color:{colour}">'
                f"{html.escape(self.exercise)}: {self.verdict}</b><br>{html.escape(self.message)}</div>")


def unanswered(exercise: str, hint: str) -> Feedback:
    return Feedback(exercise, None, f"Replace the placeholder with your answer. Hint: {hint}")


def close(a: float, b: float, tol: float) -> bool:
    return abs(float(a) - float(b)) <= tol
