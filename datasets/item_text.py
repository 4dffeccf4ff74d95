"""Item names to the paper's multi-hot text vectors: the vocabulary (words of 3+ characters
seen at least 5 times, 2757 of them on the NGNN split) and the vector of a name.

Used by the featurizer (:mod:`datasets.featurize`) for both Polyvore releases and for the
Maryland schema's raw item names (:func:`build_vocabulary`).
"""
from __future__ import absolute_import, division, print_function

import collections
import re

import numpy as np

from core import files
from core.errors import DataError

_WORD = re.compile(r"[^\W_][\w'&-]*")  # unicode letters too: "chloé", "hermès"


def tokenize(name):
    """Lower-case words of an item name (letters, digits, apostrophes, hyphens, ampersands).

    Args:
      name: an item name.

    Returns:
      A list of words.
    """
    return _WORD.findall(str(name).lower())


def build_vocabulary(paths, min_count=5, min_length=3):
    """Words of ``min_length``+ characters seen at least ``min_count`` times in item names.

    Args:
      paths: outfit files in the original Maryland schema ([{items: [{name, ...}]}]).
    Returns:
      ``[(word, count)]`` sorted by count (descending), then word.

    Raises:
      DataError: a names file that cannot be read.
    """
    names = []
    for path in paths:
        raw = files.load_json(path, "Polyvore outfit (Maryland schema)")
        for position, outfit in enumerate(raw):
            try:
                items = outfit["items"]
            except (KeyError, TypeError):
                raise DataError("{}: outfit #{} has no items list".format(path, position))
            names.extend(item.get("name", "") for item in items)
    return vocabulary_from_names(names, min_count, min_length)


def vocabulary_from_names(names, min_count=5, min_length=3):
    """:func:`build_vocabulary` on item names already read: ``[(word, count)]``, sorted by
    count (descending), then word.

    Args:
      names: item names.
      min_count, min_length: as :func:`build_vocabulary`.

    Returns:
      ``[(word, count)]``.
    """
    counts = collections.Counter()
    for name in names:
        counts.update(w for w in tokenize(name or "") if len(w) >= min_length)
    vocab = [(w, c) for w, c in counts.items() if c >= min_count]
    vocab.sort(key=lambda wc: (-wc[1], wc[0]))
    return vocab


def text_multi_hot(name, vocabulary, size=None):
    """Multi-hot vector of an item name over ``vocabulary`` ([(word, count)] or [word]).

    Args:
      name: the item name.
      vocabulary: the words.
      size: the vector length (default the vocabulary's).

    Returns:
      An int8 vector.
    """
    words = [w if isinstance(w, str) else w[0] for w in vocabulary]
    index = {w: i for i, w in enumerate(words)}
    vector = np.zeros(size or len(words), dtype=np.float32)
    for word in tokenize(name):
        if word in index:
            vector[index[word]] = 1.0
    return vector
