"""The bundled LF set for the YouTube spam data (workbench.data.youtube_lfs)."""

import pandas as pd

from workbench import ABSTAIN
from workbench.data.youtube_lfs import HAM, short_comment


def test_short_comment_counts_the_words_str_split_gives():
    texts = ["lol", "so  good\tsong", "one two three four", "one two three four five", " a\u00a0b\u2003c\u3000d e ",
             "a\u200bb c d e", "", "check\nmy\r\nchannel now please", "a\x1cb\x1dc\x1ed\x1fe"]
    votes = short_comment(pd.DataFrame({"text": texts}))
    assert votes.tolist() == [HAM if len(t.split()) < 5 else ABSTAIN for t in texts]
    assert votes.tolist().count(HAM) == 5  # the zero-width space is no space: "a\u200bb" is one word
    # whatever the column's storage; a missing text is no short comment
    for column in (pd.Series(texts + [None], dtype=object), pd.Series(texts + [None], dtype=pd.StringDtype("python"))):
        assert short_comment(pd.DataFrame({"text": column})).tolist() == votes.tolist() + [ABSTAIN]
