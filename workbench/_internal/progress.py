"""When long work shows a progress bar (``tqdm.auto``) unless the caller says otherwise."""

#: Row count from which work shows a progress bar when ``progress_bar=None``.
PROGRESS_MIN_ROWS = 50_000


def end_early(bar, where: str) -> None:
    """Close a ``tqdm.auto`` bar that its loop leaves before the total, full, as ``<desc>: stopped early at <where>``.

    tqdm draws a bar closed short of its total as failed (red and half full in a notebook), but a loop
    that stops early (patience run out, nothing left to label) has finished its work: the bar's total
    becomes the steps done, keeping the elapsed time. A loop that stops at its last step just closes it.
    """
    if bar.disable or bar.n >= (bar.total or 0):
        bar.close()
        return
    bar.set_description_str(f"{bar.desc}: stopped early at {where}", refresh=False)
    done, started = bar.n, bar.start_t
    bar.reset(total=done)
    bar.start_t = started
    bar.update(done)
    bar.close()
