"""The outfit family (NGNN's data): its provider, the readers of today's layouts, and
:func:`load`, which gives the family's data object.

Each reader returns a :class:`datasets.outfit_data.OutfitData` (:func:`datasets.polyvore.load`'s
or :func:`datasets.polyvore_outfits.load`'s). The raw releases are recognised too, only to say
that they are featurized first. Readers of other layouts register here (:data:`PROVIDER`).
"""
from __future__ import absolute_import, division, print_function

import os

from datasets import outfit_data, outfits_release
from datasets import polyvore as pv
from datasets import polyvore_outfits
from datasets import polyvore_release
from datasets.providers import Provider, Reader
from core.errors import UsageError

PROVIDER = Provider("outfit data set")


def _featurized_outfits(root, cache_dir, config, seed, log, synthetic):
    del cache_dir, synthetic  # the featurized store is opened in place
    return polyvore_outfits.load(root, config.split, seed=seed,
                                 min_category_items=config.min_category_items, log=log)


def _raw_release(command, flags):
    def load(root, cache_dir, config, seed, log, synthetic):
        raise UsageError("--data-dir {}: a raw release; featurize it first: python -m "
                         "datasets.featurize {} {} --out OUT, then --data-dir OUT".format(
                             root, command, flags.format(root=root)))
    return load


def _maryland(root, cache_dir, config, seed, log, synthetic):
    return pv.load(root, os.path.join(cache_dir, "stores"), seed=seed, on_bad=config.on_bad,
                   on_missing=config.on_missing, visual_dim=config.visual_dim,
                   vocab_size=config.vocab_size, synthetic=synthetic,
                   distinct_categories=config.distinct_categories, log=log)


PROVIDER.register(Reader(
    "polyvore-outfits", "Polyvore Outfits, featurized ({} + {}/)".format(
        polyvore_outfits.ITEMS_FILE, "features"), polyvore_outfits.is_featurized,
    _featurized_outfits))
PROVIDER.register(Reader(
    "polyvore-outfits-release", "the raw Polyvore Outfits release ({})".format(
        outfits_release.METADATA_FILE),
    # a store featurized into its own release folder is the store's
    lambda root: outfits_release.is_release(root) and not polyvore_outfits.is_featurized(root),
    _raw_release("polyvore-outfits", "--root {root}")))
PROVIDER.register(Reader(
    "polyvore-release", "the raw Polyvore release ({})".format(
        polyvore_release.RELEASE_FILES[0][1]),
    lambda root: os.path.isfile(os.path.join(root, polyvore_release.RELEASE_FILES[0][1])),
    _raw_release("polyvore", "--images IMAGES --outfits {root}")))
PROVIDER.register(Reader(
    "maryland", "the NGNN authors' Polyvore files ({}, ...)".format(pv.TRAIN_FILE),
    lambda root: os.path.isfile(os.path.join(root, pv.TRAIN_FILE)), _maryland))


def load(root, cache_dir, config, seed=0, log=None, synthetic=False):
    """The outfits in ``root``, read by the reader of their layout, as NGNN's data.

    Args:
      root / cache_dir / config / seed / log / synthetic: as :meth:`Provider.load`.

    Returns:
      A :class:`datasets.outfit_data.OutfitData`. Vectors of an untrained backbone are said
      at WARNING: the visual branch would learn nothing of the images.

    Raises:
      DataError: no reader's layout, or an ambiguous folder.
    """
    data = PROVIDER.load(root, cache_dir, config, seed, log, synthetic)
    if log is not None and outfit_data.features_record(data.store).get("random_weights"):
        log.warning("%s: the image vectors were encoded with RANDOM backbone weights "
                    "(datasets.featurize --weights none: for tests only); the visual branch "
                    "sees noise-like features. Featurize with --weights imagenet or a "
                    "weights file for real results", root)
    return data
