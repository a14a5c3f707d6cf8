"""Human review: what to show a reviewer, what they said, and how it becomes new seed labels.

The pieces, from pure to stateful:

- :func:`uncertainty` and :func:`review_order` rank examples for review (least certain
  first, where the generators disagree, or in the gray zone, with the scores of
  :mod:`workbench.curate`), optionally mixed for diversity so a reviewer is not shown
  twenty near-clones in a row.
- :class:`ReviewQueue` walks that order one example at a time and commits every
  decision to a :class:`~workbench.review.ProjectStore` the moment it is made; it never
  shows an example already decided unless asked to revisit, and undoes the last one.
- :func:`harvest` turns standing decisions into seed labels, refusing any protected
  (dev/valid/test/canary) row; :func:`build_training_set` puts them into the next
  training set with its lineage; :class:`ReviewLoop` runs rounds of harvest, retrain,
  evaluate and keeps the history in the store.
- :func:`reviewer_agreement` reports Cohen's kappa between two reviewers and lists
  the examples they disagree on."""

from workbench.review._agreement import (
    Agreement,
    reviewer_agreement,
)
from workbench.review._harvest import (
    SeedLabels,
    TrainingSet,
    build_training_set,
    harvest,
)
from workbench.review._loop import (
    ReviewLoop,
    RoundResult,
)
from workbench.review._queue import (
    DIVERSE_PICKS,
    STRATEGIES,
    UNCERTAINTY_METHODS,
    ProtectedExampleError,
    ReviewItem,
    ReviewQueue,
    diverse_order,
    protected_ids,
    review_order,
    uncertainty,
)
from workbench.review._store import (
    APPLICATION_ID,
    MIGRATIONS,
    OUTCOMES,
    STORE_FILENAME,
    NewerSchemaError,
    NotAStoreError,
    ProjectStore,
    StoreError,
    default_store_path,
    schema_version,
)

__all__ = [
    "APPLICATION_ID",
    "Agreement",
    "DIVERSE_PICKS",
    "MIGRATIONS",
    "NewerSchemaError",
    "NotAStoreError",
    "OUTCOMES",
    "ProjectStore",
    "ProtectedExampleError",
    "ReviewItem",
    "ReviewLoop",
    "ReviewQueue",
    "RoundResult",
    "STORE_FILENAME",
    "STRATEGIES",
    "SeedLabels",
    "StoreError",
    "TrainingSet",
    "UNCERTAINTY_METHODS",
    "build_training_set",
    "default_store_path",
    "diverse_order",
    "harvest",
    "protected_ids",
    "review_order",
    "reviewer_agreement",
    "schema_version",
    "uncertainty",
]
