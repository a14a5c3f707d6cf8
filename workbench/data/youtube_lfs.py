"""A ready set of labeling functions for the bundled YouTube spam data (0 = ham, 1 = spam).

The quickstart notebook writes these step by step; later notebooks import them when they
need weak labels without re-teaching LF writing. They mix the kinds people write: keywords,
regular expressions, and heuristics (vectorized and one row-wise Snorkel LF).
"""

import re

import numpy as np
from snorkel.labeling import labeling_function

from workbench.labeling import ABSTAIN, keyword_lf, regex_lf, search, vectorized_lf

HAM, SPAM = 0, 1

kw_my = keyword_lf("kw_my", ["my"], SPAM)
kw_subscribe = keyword_lf("kw_subscribe", ["subscribe", "sub", "subscribers"], SPAM)
kw_link = keyword_lf("kw_link", ["http", "https", "www", ".com"], SPAM, whole_word=False)
kw_please = keyword_lf("kw_please", ["please", "plz", "pls"], SPAM)
kw_money = keyword_lf("kw_money", ["money", "cash", "earn", "free", "win", "gift card"], SPAM)
kw_song = keyword_lf("kw_song", ["song", "songs"], HAM)
kw_love = keyword_lf("kw_love", ["love", "best", "beautiful", "amazing", "awesome"], HAM)
re_check_out = regex_lf("re_check_out", r"check.*out", SPAM)
re_views = regex_lf("re_views", r"\b(?:\d+\s*(?:billion|million|m|b)\b|views?)", HAM)


# A fifth word: runs of non-whitespace, as str.split() splits (Python's \s is str.isspace()).
_FIVE_WORDS = re.compile(r"(?:\S+\s+){4}\S")


@vectorized_lf(labels=[HAM])
def short_comment(df):
    """Very short comments ("lol", "so good") are rarely spam."""
    # fewer than five of str.split()'s words, without a list of words per row (at a million rows those
    # lists took more than a gigabyte): `search` finds a fifth word with RE2 on the ASCII texts and with
    # Python's re on the others, and stops there (0.25 s at a million rows; counting words took 2.9 s)
    text = df["text"]
    return np.where(text.isna().to_numpy() | search(text, _FIVE_WORDS), ABSTAIN, HAM)


@labeling_function()
def shouting(x):
    """Mostly-capitals comments with exclamation marks read like adverts."""
    letters = [c for c in x.text if c.isalpha()]
    if len(letters) >= 10 and sum(c.isupper() for c in letters) / len(letters) > 0.6 and "!" in x.text:
        return SPAM
    return ABSTAIN


YOUTUBE_LFS = [kw_my, kw_subscribe, kw_link, kw_please, kw_money, kw_song, kw_love,
               re_check_out, re_views, short_comment, shouting]
