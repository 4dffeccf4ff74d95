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
as ``baselines.oracle`` next to the trivial rules. :func:`outfit_oracles.oracle` and
:func:`behaviour_oracles.oracle` ask each generator of the family whether it made a directory
(one module per family, so that neither model's run imports the other's generators).
"""
from __future__ import absolute_import, division, print_function
