"""What every generator of the embedded default data shares: where the data goes (a
content-keyed cache folder, built atomically) and the latent variables each generator saves
beside it (``ORACLE.npz``) for its oracle. The files of each family are written by
:mod:`.outfit_files` (NGNN) and :mod:`.behaviour_files` (DIN), so that neither model's run
imports the other's readers.
"""
from __future__ import absolute_import, division, print_function

import hashlib
import json
import os

import numpy as np

from core import files
from core.errors import UsageError

GENERATOR_VERSION = 4  # 4: ORACLE.npz beside the data (same data as 3)
ORACLE_FILE = "ORACLE.npz"


def cache_root():
    """Where generated data and feature stores live: $NPUREC_CACHE or ~/.cache/npurec.

    Returns:
      A path.
    """
    return os.environ.get("NPUREC_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "npurec")


def atomic_build(target, build):
    """Run ``build(tmp_dir)`` and rename the result to ``target`` (nothing half-written).

    Args:
      target: the folder to create.
      build: fills a folder.

    Returns:
      ``target`` (also when it existed or another process built it).
    """
    if os.path.isdir(target):
        return target
    with files.atomic_directory(target, exists=files.KEEP) as tmp:  # KEEP: a concurrent build
        build(tmp)
    return target


def params_key(params):
    """A short content key of a generator's parameters (its cache folder's name).

    Args:
      params: JSON-able parameters.

    Returns:
      12 hex digits.
    """
    text = json.dumps(params, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def read_oracle(root, kind):
    """The latent variables a generator of ``kind`` saved in ``root`` (None: another kind or
    none).

    Args:
      root: the data directory.
      kind: the generator's ``KIND``.

    Returns:
      ``{name: array}`` or None.
    """
    path = os.path.join(root, ORACLE_FILE)
    if not os.path.isfile(path):
        return None
    with np.load(path, allow_pickle=False) as saved:
        if str(saved["kind"]) != kind:
            return None
        return {k: saved[k] for k in saved.files}


def resolve_data_dir(data_dir, cache_dir, generate, description, log):
    """Where a task's data comes from: the user's directory, or the embedded default.

    Args:
      data_dir: the user's data directory, or '' for the embedded synthetic default.
      cache_dir: where processed data goes ('' = :func:`cache_root`).
      generate: makes (once) the synthetic default in the real formats; returns its folder.
      description: what the synthetic data is (for the warning).
      log: the task's logger; the run says loudly that its data is synthetic.

    Returns:
      ``(root, is_synthetic, cache_dir)``.

    Raises:
      UsageError: ``data_dir`` is not a directory, or the cache is a file.
    """
    cache = cache_dir or cache_root()
    if os.path.exists(cache) and not os.path.isdir(cache):
        raise UsageError("the cache {} ({}) is a file, not a folder: point it at a folder "
                         "(the file was not touched)".format(
                             cache, "data.cache_dir" if cache_dir else "$NPUREC_CACHE"))
    if not data_dir:
        root = generate()
        log.warning("no --data-dir given: using the embedded SYNTHETIC %s in %s (planted "
                    "signal; not real data)", description, root)
        return root, True, cache
    if not os.path.isdir(data_dir):
        raise UsageError("--data-dir {}: no such directory".format(data_dir))
    return data_dir, False, cache

