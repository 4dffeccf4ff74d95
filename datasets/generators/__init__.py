"""Generators of the embedded default data: files in exactly the real formats, with a planted
signal, one module per data set with its oracle beside it.

No feature vectors or Amazon dumps can be shipped, so ``--data-dir`` omitted means: generate
(deterministically, once, into the cache) small data sets in the REAL file formats and train on
them through the real loaders. Runs on them say that they are synthetic.

========================================  ==========================================
module                                    data set (``data.synthetic_kind``)
========================================  ==========================================
:mod:`.polyvore_style`                    NGNN default ``style``: a latent style per outfit
:mod:`.polyvore_compatibility`            NGNN ``compatibility``: style-chosen categories
:mod:`.real_outfits`                      NGNN ``outfits``: the real outfit lists
:mod:`.amazon_interests`                  DIN default ``interests``: favourite categories
:mod:`.amazon_transitions`                DIN ``transitions``: item-to-item chains
:mod:`.amazon_longtail`                   DIN ``longtail``: a sparse log, new items arriving
========================================  ==========================================

Each generator writes ``ORACLE.npz``, the latent variables it planted, and its module's
``oracle`` scores rows the way the generator would: the ceiling that ``metrics.json`` reports
as ``baselines.oracle`` next to the trivial rules. :func:`polyvore_oracle` and
:func:`amazon_oracle` ask each generator of the family whether it made a directory.
"""
from __future__ import absolute_import, division, print_function

from datasets.generators import (amazon_interests, amazon_longtail, amazon_transitions,
                                 polyvore_compatibility, polyvore_style, real_outfits)


def polyvore_oracle(root, store_keys, num_categories, distinct_categories=False):
    """The outfit scorer of whichever NGNN generator made ``root``, or None (not generated).

    Args:
      root: the data directory.
      store_keys: the item key of each feature-store row.
      num_categories: categories of the data.
      distinct_categories: the negatives keep an outfit's categories distinct.

    Returns:
      ``scorer(items, cats, mask) -> scores`` or None.
    """
    for module in (polyvore_style, polyvore_compatibility, real_outfits):
        scorer = module.oracle(root, store_keys, num_categories, distinct_categories)
        if scorer is not None:
            return scorer
    return None


def amazon_oracle(root, vocab, protocol=None):
    """The click scorer of whichever DIN generator made ``root``, or None (not generated).

    Args:
      root: the data directory.
      vocab: the processed data's vocabulary (``items``: the asin of each id).
      protocol: the data's protocol: how its negatives were drawn (None: uniform).

    Returns:
      ``scorer(rows) -> scores`` or None.
    """
    for module in (amazon_interests, amazon_transitions, amazon_longtail):
        scorer = module.oracle(root, vocab, protocol)
        if scorer is not None:
            return scorer
    return None
