"""Metrics per slice with gaps and intervals (workbench.evaluate._slices)."""


import pandas as pd
import pytest
from snorkel.slicing import slicing_function

from workbench.evaluate import (
    slice_masks,
    slice_report,
)


def test_known_bad_slice_is_flagged_with_the_right_gap(sliced):
    df, preds = sliced

    @slicing_function()
    def tiny(x):
        return x.tiny_flag

    rep = slice_report(preds, df, ["source", tiny], margin=0.1, min_size=20).set_index("slice")
    overall_error = 31 / 200
    assert rep.loc["all", "error_rate"] == pytest.approx(overall_error)
    assert rep.loc["source=forum", "n"] == 50
    assert rep.loc["source=forum", "error_rate"] == pytest.approx(20 / 50)
    assert rep.loc["source=forum", "error_gap"] == pytest.approx(20 / 50 - overall_error)
    assert rep.loc["source=forum", "accuracy_gap"] == pytest.approx(-(20 / 50 - overall_error))
    assert rep.loc["source=forum", "status"] == "flagged" and rep.loc["source=forum", "flagged"]
    # The rest of the data is better than the whole: reported, not flagged.
    assert rep.loc["source=web", "error_gap"] == pytest.approx(11 / 150 - overall_error)
    assert rep.loc["source=web", "status"] == "ok"
    # A tiny slice with a huge gap is reported with its size but not flagged.
    assert rep.loc["tiny", "n"] == 5 and rep.loc["tiny", "error_rate"] == 1.0
    assert rep.loc["tiny", "status"] == "too small" and not rep.loc["tiny", "flagged"]
    # Its Wilson interval is wide; the big slice's is narrower.
    width = rep["error_high"] - rep["error_low"]
    assert width["tiny"] > 0.4 > width["source=forum"]
    assert rep.index[0] == "all" and rep.index[1] == "tiny"  # then by decreasing gap


def test_margin_decides_the_flag(sliced):
    df, preds = sliced
    gap = 20 / 50 - 31 / 200
    just_above = slice_report(preds, df, ["source"], margin=gap + 0.01, min_size=20).set_index("slice")
    assert just_above.loc["source=forum", "status"] == "ok"
    tiny_ok = slice_report(preds, df, ["source"], margin=0.1, min_size=60).set_index("slice")
    assert tiny_ok.loc["source=forum", "status"] == "too small"


def test_slice_masks_sources_and_errors():
    df = pd.DataFrame({"text": ["a b", "c", "d e f"], "video": [1, None, 2], "label": [0, 1, 0]})

    @slicing_function()
    def one_word(x):
        return len(x.text.split()) == 1

    masks = slice_masks(df, [one_word, "video", ("first", [True, False, False])])
    assert masks["one_word"].tolist() == [False, True, False]
    assert masks["video=1.0"].tolist() == [True, False, False]
    assert masks["video=<missing>"].tolist() == [False, True, False]
    with pytest.raises(ValueError, match="slice column 'author' is not in data"):
        slice_masks(df, ["author"])
    with pytest.raises(ValueError, match="slice 'first': mask has shape"):
        slice_masks(df, {"first": [True]})
    with pytest.raises(ValueError, match="two slices are named 'one_word'"):
        slice_masks(df, [one_word, one_word])


def test_bundled_youtube_slices(youtube):
    from workbench.data.youtube_slices import YOUTUBE_SLICES

    df = youtube.valid
    masks = slice_masks(df, YOUTUBE_SLICES)
    assert {f"video={v}" for v in range(1, 5)} <= set(masks)
    links = df.text.str.contains("http", case=False)
    assert masks["has_link"][links.to_numpy()].all()
    assert (df.text[masks["very_short"]].str.split().str.len() <= 3).all()
    assert df.AUTHOR[masks["author_has_digits"]].str.contains(r"\d").all()
