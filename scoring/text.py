"""Ticket text: cleaning (mojibake, e-mail headers, signatures) and a fast TF-IDF vectorizer."""

from __future__ import annotations

import functools
import itertools
import math
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence

import ftfy
import numpy as np
from scipy import sparse

MAX_RAW_CHARS = 8_000
"""Text is cut to this length before cleaning, so a 1 MB body costs no more than a long one."""

MAX_CLEAN_CHARS = 5_000
"""Cleaned text is cut to this length before featurising: long logs add cost, not signal."""

# Mojibake markers: UTF-8 bytes decoded as cp1252 ("Ã¤" for "ä", "â€™" for "’"). ftfy is slow,
# so it only runs when one is present.
_MOJIBAKE = re.compile(
    "[ÃÂâ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013-\u2122]"
)
_HEADER_LINE = re.compile(
    r"(?im)^[ \t>]*(received from|from|sent|to|cc|bcc|subject|date|von|gesendet|an|betreff|"
    r"datum)[ \t]*:.*$"
)
# A signature starts at the "-- " delimiter or a closing formula and runs to the end.
_SIGNATURE = re.compile(
    r"(?ims)(^--\s*$|^\s*(best|kind|warm)?\s*regards\b|^\s*thanks?( you)?( and| &) regards\b|"
    r"^\s*mit freundlichen gr(ü|u|ue)(ß|ss)en\b|^\s*(viele|beste) gr(ü|u|ue)(ß|ss)e\b|"
    r"^\s*sincerely\b|^\s*cheers,?\s*$).*"
)
_DISCLAIMER = re.compile(
    r"(?is)(this (e-?mail|message)( and any attachments?)? (is|are) confidential|"
    r"the information (contained )?in this (e-?mail|message)|diese e-?mail enthält vertrauliche).*"
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_URL = re.compile(r"\bhttps?://\S+")
_WORD = re.compile(r"\w\w+")

WORD_PREFIX = "w:"
BIGRAM_PREFIX = "b:"
CHAR_PREFIX = "c:"
CHAR_NGRAMS = (3, 5)
"""Character n-gram lengths inside word boundaries: robust to typos, German compounds, codes.

2-grams would add a third of the entries (and of the vectorizing time) but little signal."""


def clean_text(text: str | None) -> str:
    """Clean one ticket text for featurising.

    Repairs mojibake, drops e-mail header lines, signatures and disclaimers, replaces e-mail
    addresses and URLs by placeholders, lowercases and cuts to `MAX_CLEAN_CHARS`.

    Args:
        text: raw subject and/or body; ``None`` and non-strings are treated as empty.

    Returns:
        The cleaned text (possibly empty).
    """
    if not isinstance(text, str) or not text:
        return ""
    text = text[:MAX_RAW_CHARS]
    if _MOJIBAKE.search(text):
        text = _fix_mojibake(text)
    text = _HEADER_LINE.sub(" ", text)
    signature = _SIGNATURE.search(text)
    if signature and signature.start() > 0:
        text = text[: signature.start()]
    # The cheap `in` tests skip regexes that rarely match; they dominate the cost otherwise.
    lowered = text.lower()
    if "confidential" in lowered or "information" in lowered or "vertraulich" in lowered:
        text = _DISCLAIMER.sub(" ", text)
    if "http" in lowered:
        text = _URL.sub(" urladdress ", text)
    if "@" in text:
        text = _EMAIL.sub(" emailaddress ", text)
    # str.split() splits on the characters regex \s matches, and is several times faster
    return " ".join(text.split()).lower()[:MAX_CLEAN_CHARS]


def _fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as cp1252: the exact inverse when it applies, else ftfy (slower, smarter)."""
    try:
        return text.encode("cp1252").decode("utf-8")
    except UnicodeError:
        return _ftfy_by_line(text)


def _ftfy_by_line(text: str) -> str:
    """`ftfy.fix_text(text)`, remembering each line's fix.

    ftfy fixes a text line by line, each line on its own, except that from the first line with a
    "<" on it no longer unescapes HTML. Lines repeat across tickets (greetings, signatures,
    disclaimers, templates): a remembered line costs a lookup instead of ftfy's ~30 us.
    """
    lines = text.split("\n")
    fixed = []
    unescape = True  # ftfy's "auto": until a line contains "<"
    for k, line in enumerate(lines):
        segment = line if k == len(lines) - 1 else line + "\n"
        unescape = unescape and "<" not in segment
        remember = len(segment) <= _FTFY_LINE_CHARS  # bounds the memory; repeated lines are short
        fixed.append((_ftfy_line if remember else _ftfy_line.__wrapped__)(segment, unescape))
    return "".join(fixed)


_FTFY_LINE_CHARS = 300
"""Lines up to this length have their ftfy fix remembered (at most 4,096 of them)."""


@functools.lru_cache(maxsize=4096)
def _ftfy_line(segment: str, unescape_html: bool) -> str:
    """ftfy's fix of one line (ending in its newline), as in the middle of `ftfy.fix_text`."""
    return ftfy.fix_text(segment, unescape_html="auto" if unescape_html else False)


def words_of(clean: str) -> list[str]:
    """The word tokens of a cleaned text."""
    return _WORD.findall(clean)


def _char_grams(word: str) -> list[str]:
    padded = f" {word} "
    low, high = CHAR_NGRAMS
    return [
        CHAR_PREFIX + padded[i : i + n]
        for n in range(low, high + 1)
        for i in range(len(padded) - n + 1)
    ]


def analyze(clean: str) -> tuple[list[str], list[str]]:
    """Word (unigram and bigram) terms and character n-gram terms of a cleaned text."""
    words = words_of(clean)
    word_terms = [WORD_PREFIX + w for w in words]
    word_terms += [f"{BIGRAM_PREFIX}{a} {b}" for a, b in itertools.pairwise(words)]
    char_terms = [g for w in words for g in _char_grams(w)]
    return word_terms, char_terms


def readable_term(term: str) -> str:
    """A term as people read it: 'word "invoice"', 'phrase "not arrived"', 'chars "rech"'."""
    kind = {WORD_PREFIX: "word", BIGRAM_PREFIX: "phrase", CHAR_PREFIX: "chars"}[term[:2]]
    return f'{kind} "{term[2:].strip()}"'


class TextVectorizer:
    """TF-IDF over word 1-2-grams and in-word character 3-5-grams, in two L2-normalised blocks.

    It matches what scikit-learn's `TfidfVectorizer` (sublinear tf, smooth idf) would compute for
    these terms, but vectorizes one text in tens of microseconds: vocabulary lookups are plain
    dict gets and each word's ids (its own term and its character n-grams) are cached.
    """

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray, n_word_terms: int) -> None:
        self.vocabulary = vocabulary
        self.idf = idf.astype(np.float64)
        self.n_word_terms = n_word_terms
        self._word_cache: dict[str, array] = {}
        self._terms: list[str] | None = None
        # bigram ids by word pair: looking up the pairs `pairwise` yields builds no strings
        self._bigrams = {
            (pair[0], pair[1]): i
            for term, i in vocabulary.items()
            if term.startswith(BIGRAM_PREFIX) and len(pair := term[2:].split(" ")) == 2
        }

    @property
    def n_features(self) -> int:
        """Number of terms (columns)."""
        return len(self.idf)

    @classmethod
    def fit(
        cls,
        cleaned: Sequence[str],
        min_df: int = 2,
        max_word_terms: int = 100_000,
        max_char_terms: int = 150_000,
    ) -> TextVectorizer:
        """Learn the vocabulary and idf from cleaned texts.

        Args:
            cleaned: texts already passed through `clean_text`.
            min_df: a term must occur in at least this many texts.
            max_word_terms: keep at most this many word terms (most frequent first).
            max_char_terms: keep at most this many character terms.
        """
        word_df: Counter[str] = Counter()
        char_df: Counter[str] = Counter()
        for text in cleaned:
            word_terms, char_terms = analyze(text)
            word_df.update(set(word_terms))
            char_df.update(set(char_terms))
        terms: list[str] = []
        dfs: list[int] = []
        for counter, cap in ((word_df, max_word_terms), (char_df, max_char_terms)):
            kept = sorted(
                (t for t, c in counter.items() if c >= min_df), key=lambda t: (-counter[t], t)
            )[:cap]
            kept.sort()
            terms += kept
            dfs += [counter[t] for t in kept]
        n_docs = len(cleaned)
        idf = np.log((1 + n_docs) / (1 + np.asarray(dfs, dtype=np.float64))) + 1.0
        n_word_terms = sum(1 for t in terms if not t.startswith(CHAR_PREFIX))
        return cls({t: i for i, t in enumerate(terms)}, idf, n_word_terms)

    def terms(self) -> list[str]:
        """Terms in column order."""
        out = [""] * len(self.vocabulary)
        for term, index in self.vocabulary.items():
            out[index] = term
        return out

    def terms_at(self, indices: Iterable[int]) -> list[str]:
        """The terms of some columns."""
        if self._terms is None:
            self._terms = self.terms()
        return [self._terms[int(i)] for i in indices]

    def _word_ids(self, word: str) -> array:
        """Column ids of a word's own term and of its character n-grams, cached per word."""
        ids = self._word_cache.get(word)
        if ids is None:
            vocab = self.vocabulary
            grams = [WORD_PREFIX + word, *_char_grams(word)]
            # a C int array: extending another array with it is a copy, not a Python loop
            ids = array("i", [i for g in grams if (i := vocab.get(g)) is not None])
            if len(self._word_cache) > 200_000:  # bound memory on endless new words
                self._word_cache.clear()
            self._word_cache[word] = ids
        return ids

    def _add_term_ids(self, clean: str, out: array) -> None:
        """Append the column ids (with repeats, in no order) of every term of a cleaned text."""
        words = words_of(clean)
        bigram_get = self._bigrams.get
        out.extend([i for pair in itertools.pairwise(words) if (i := bigram_get(pair)) is not None])
        cache_get = self._word_cache.get
        for w in words:
            ids = cache_get(w)
            out.extend(self._word_ids(w) if ids is None else ids)

    def transform_one(self, clean: str) -> tuple[np.ndarray, np.ndarray]:
        """Vectorize one cleaned text.

        Returns:
            (column indices int32, tf-idf values float64), sorted by column.
        """
        ids = array("i")
        self._add_term_ids(clean, ids)
        if not ids:
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float64)
        ids_sorted = np.sort(np.frombuffer(ids, dtype=np.int32))
        cut = int(np.searchsorted(ids_sorted, self.n_word_terms))  # word terms come first
        blocks = [self._weigh(b) for b in (ids_sorted[:cut], ids_sorted[cut:]) if len(b)]
        if len(blocks) == 1:
            return blocks[0]
        return np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])

    def _weigh(self, ids_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sublinear tf times idf, L2-normalised, for one block's sorted term ids (with repeats)."""
        # where each run of equal ids starts, and its length (np.diff's set-up costs more here)
        first = np.empty(len(ids_sorted), dtype=bool)
        first[0] = True
        np.not_equal(ids_sorted[1:], ids_sorted[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        idx = ids_sorted[starts]
        tf = np.empty(len(starts), dtype=np.int64)
        tf[:-1] = starts[1:] - starts[:-1]
        tf[-1] = len(ids_sorted) - starts[-1]
        val = (1.0 + np.log(tf)) * self.idf[idx]
        val /= math.sqrt(float(val @ val))
        return idx, val

    def transform(self, cleaned: Iterable[str]) -> sparse.csr_matrix:
        """Vectorize many cleaned texts into a CSR matrix (one row per text).

        The same weights as `transform_one`, computed for all texts at once.
        """
        ids = array("i")  # a C buffer: no per-item conversion to numpy later
        indptr = [0]
        for text in cleaned:
            self._add_term_ids(text, ids)
            indptr.append(len(ids))
        n_rows = len(indptr) - 1
        indices = np.frombuffer(ids, dtype=np.int32) if len(ids) else np.empty(0, np.int32)
        counts = sparse.csr_matrix(
            (np.ones(len(indices), dtype=np.int32), indices, np.asarray(indptr, dtype=np.int64)),
            shape=(n_rows, self.n_features),
        )
        counts.sum_duplicates()  # repeated terms become counts (and indices get sorted)
        entry_rows = np.repeat(np.arange(n_rows), np.diff(counts.indptr))
        data = (1.0 + np.log(counts.data)) * self.idf[counts.indices]
        block = entry_rows * 2 + (counts.indices >= self.n_word_terms)
        norms = np.sqrt(np.bincount(block, weights=data * data, minlength=2 * n_rows))
        return sparse.csr_matrix(
            (data / norms[block], counts.indices, counts.indptr), shape=counts.shape
        )
