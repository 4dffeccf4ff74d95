"""The ceiling of a generated behaviour log: the scorer of whichever DIN generator made it."""
from __future__ import absolute_import, division, print_function

from datasets.generators import amazon_interests, amazon_longtail, amazon_transitions


def oracle(root, vocab, protocol=None):
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
