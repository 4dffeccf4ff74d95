"""npurec datasets: raw files in, validated arrays and tf.data out. Knows nothing of models.

Note: this top-level package is named ``datasets`` and therefore clashes with Hugging Face's
``datasets`` when both are installed in one environment; ``training.fit`` checks which one
was imported (``NPUREC_DATASETS`` below) and says so clearly.
"""

import os

NPUREC_DATASETS = True


def user_file_mode(directory=False):
    """The mode ``open()``/``mkdir`` would give a new file (directory) under the current umask.

    Files written atomically start as ``tempfile.mkstemp`` files (mode 0600); results the user
    reads (metrics, configs, feature stores) get this mode before they are renamed into place.
    """
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


class DataError(ValueError):
    """Bad input data; the message names the file, line or item and what was expected."""
