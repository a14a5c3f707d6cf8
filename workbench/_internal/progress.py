"""When long work shows a progress bar (``tqdm.auto``) unless the caller says otherwise."""

#: Row count from which work shows a progress bar when ``progress_bar=None``.
PROGRESS_MIN_ROWS = 50_000
