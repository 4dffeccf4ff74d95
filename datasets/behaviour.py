"""The behaviour-log family (DIN's data): its provider, the readers of today's formats, and
:func:`load`, which gives the family's data object.

Each reader returns ``(sample set, protocol)``: a :class:`datasets.samples.SampleSet` and
how its rows, labels and negatives were made (None: the set's own ``protocol``). Readers of
other formats register here (:data:`PROVIDER`; ``docs/extending.md``); :func:`load` makes
what any of them returns a :class:`datasets.behaviour_data.BehaviourData` and checks it.
"""
from __future__ import absolute_import, division, print_function

import os

from datasets import amazon, movielens
from datasets.behaviour_data import BehaviourData
from datasets.providers import Provider, Reader

PROVIDER = Provider("behaviour log")


def _movielens(root, cache_dir, config, seed, log, synthetic):
    del synthetic  # MovieLens is never generated
    return movielens.load(root, os.path.join(cache_dir, "movielens"), maxlen=config.maxlen,
                          seed=seed, on_bad_line=config.on_bad_line, log=log)


def _amazon(root, cache_dir, config, seed, log, synthetic):
    del synthetic  # the generators write the Amazon format; the protocol is the same
    sample_set = amazon.load(root, os.path.join(cache_dir, "amazon"), maxlen=config.maxlen,
                             seed=seed, on_bad_line=config.on_bad_line,
                             trust_pickle=config.trust_pickle, log=log,
                             negatives=config.negatives,
                             min_item_events=config.min_item_events)
    return sample_set, None


PROVIDER.register(Reader(
    "movielens", "MovieLens (ratings.csv + movies.csv, ratings.dat + movies.dat, or u.data + "
    "u.item)", movielens.detect, _movielens))
PROVIDER.register(Reader(
    "amazon", "Amazon reviews ({} + {} (2014), CATEGORY[_5].json + meta_CATEGORY.json (2018), "
    "CATEGORY.jsonl + meta_CATEGORY.jsonl (2023), each optionally .gz, or {})".format(
        amazon.REVIEWS, amazon.META, amazon.REMAP_PICKLE), amazon.detect, _amazon))


def load(root, cache_dir, config, seed=0, log=None, synthetic=False):
    """The behaviour log in ``root``, read by the reader of its format, as DIN's data.

    Args:
      root / cache_dir / config / seed / log / synthetic: as :meth:`Provider.load`.

    Returns:
      A :class:`datasets.behaviour_data.BehaviourData`.

    Raises:
      DataError: no reader's format, an ambiguous folder, or a split without rows or with
        one label only (named, before anything is trained).
    """
    sample_set, protocol = PROVIDER.load(root, cache_dir, config, seed, log, synthetic)
    data = BehaviourData(sample_set, synthetic=synthetic, root=root, protocol=protocol)
    data.check_both_labels()
    return data
