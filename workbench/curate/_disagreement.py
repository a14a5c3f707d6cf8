"""The ``disagreement`` filter step: rows where the generators disagree are dropped or routed to review.

The source article calls disagreement between generators a red flag. With more than one
generator (the pipeline's ``generators:``), :class:`~workbench.curate.FilterContext` carries
each row's :func:`~workbench.curate.disagreement_score`; this step removes the rows at or above
``threshold``, recording them under one of two reasons so the funnel says where they went:
``route: drop`` (left out), or ``route: review`` (left out of this round and listed for a
reviewer: a review queue over exactly these ids answers them, and the next run takes the answers).
"""

from __future__ import annotations

import numpy as np

from workbench.curate._funnel import FilterStep
from workbench.curate._registry import FilterContext, StepParam, filter_step
from workbench.curate._scores import exclude

DISAGREEMENT_STEP = "disagreement"
#: The funnel's reason for rows routed to review (``route: review``): find their ids under it.
ROUTED_TO_REVIEW = "generators disagree: sent to review"
DROPPED = "generators disagree"
ROUTES = ("drop", "review")


@filter_step(DISAGREEMENT_STEP,
             StepParam("threshold", float, default=0.5, low=0, high=1, low_open=True,
                       description="disagreement score (0..1) from which a row is removed"),
             StepParam("route", str, default="drop", choices=ROUTES,
                       description="drop the rows, or list them for review"))
def disagreement(context: FilterContext, rows: np.ndarray, *, threshold: float, route: str) -> FilterStep:
    """Rows on which the generators disagree (score >= threshold): dropped, or routed to review."""
    if context.disagreement is None:
        raise ValueError(f"the {DISAGREEMENT_STEP} filter step needs more than one generator "
                         "(FilterContext.disagreement; the pipeline's generators.use)")
    ids = context.ids[rows]
    flagged = context.disagreement[rows] >= threshold
    return exclude(ids, ids[flagged], ROUTED_TO_REVIEW if route == "review" else DROPPED, name=DISAGREEMENT_STEP)
