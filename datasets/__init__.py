"""npurec datasets: raw files in, validated arrays and tf.data out. Knows nothing of models.

Note: this top-level package is named ``datasets`` and therefore clashes with Hugging Face's
``datasets`` when both are installed in one environment; ``training.fit`` checks which one
was imported (``NPUREC_DATASETS`` below) and says so clearly.
"""

NPUREC_DATASETS = True


class DataError(ValueError):
    """Bad input data; the message names the file, line or item and what was expected."""
