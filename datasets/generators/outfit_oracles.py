"""The ceiling of a generated outfit data set: the scorer of whichever NGNN generator made it."""
from __future__ import absolute_import, division, print_function

from datasets.generators import polyvore_compatibility, polyvore_style, real_outfits


def oracle(root, store_keys, num_categories, distinct_categories=False):
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
