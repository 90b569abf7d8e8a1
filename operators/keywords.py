"""Words that tell stretches of a transcript apart: TF-IDF over the stretches, numpy only.

Used for chapter titles and outline headings, and as the outline's fallback sentence vectors
when no embedding model is installed. Stop words are English; in other languages the IDF
weighting still pushes down words every stretch shares.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

TOKEN = re.compile(r"[^\W\d_](?:[\w'’-]*\w)?", re.UNICODE)
_STOPWORDS = """a about above after again against all also am an and any are as at be because
been before being below between both but by can could did do does doing down during each few
for from further had has have having he her here hers herself him himself his how i if in into
is it its itself just let like me more most my myself no nor not now of off on once only or
other our ours ourselves out over own really said same say says she should so some such than
that the their theirs them themselves then there these they this those through to too under
until up us very was we were what when where which while who whom why will with would you your
yours yourself yourselves get got go going gonna know make one two okay oh yeah well right
thing things way lot much many even still back next today come comes came see look want need
use used using s t ll re ve d m"""
STOPWORDS = frozenset(_STOPWORDS.split())
MIN_WORD = 3


def tokens(text: str) -> list[str]:
    """Lower-cased content words (no stop words, no numbers, at least MIN_WORD letters)."""
    words = (w.casefold().strip("'’-") for w in TOKEN.findall(text))
    return [w for w in words if len(w) >= MIN_WORD and w not in STOPWORDS]


def tfidf(documents: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Rows of L2-normalised TF-IDF vectors (smoothed IDF) and the vocabulary."""
    counts = [Counter(tokens(d)) for d in documents]
    vocabulary = sorted(set().union(*counts)) if counts else []
    index = {w: i for i, w in enumerate(vocabulary)}
    matrix = np.zeros((len(documents), len(vocabulary)), np.float32)
    for row, counter in enumerate(counts):
        for word, n in counter.items():
            matrix[row, index[word]] = 1.0 + np.log(n)
    df = (matrix > 0).sum(axis=0)
    idf = np.log((1 + len(documents)) / (1 + df)) + 1.0
    matrix *= idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-9), vocabulary


def keywords(documents: Sequence[str], top: int = 3) -> list[list[str]]:
    """The `top` most distinctive words of each document, best first."""
    matrix, vocabulary = tfidf(documents)
    out = []
    for row in matrix:
        order = np.argsort(-row, kind="stable")[:top]
        out.append([vocabulary[i] for i in order if row[i] > 0])
    return out


def title(words: Sequence[str]) -> str:
    """`["pasta", "sauce"]` -> `Pasta, sauce`."""
    text = ", ".join(words)
    return text[:1].upper() + text[1:]
