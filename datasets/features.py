"""Packed item-feature store for Polyvore, built ONCE from per-item JSON files.

The original NGNN parses one JSON file per item per training step; that is most of its ~21 hours.
Here the per-item files (``<set_id>_<index>.json`` in ``polyvore_image_vectors/`` and
``polyvore_text_onehot_vectors/``, as directories or as ``.zip`` archives) are converted once,
with a progress bar, into::

    STORE/visual.npy        float32 [items, 2048]   (opened memory-mapped)
    STORE/text_ids.npy      int32   [items, max_words]  word ids of the multi-hot text, padded
    STORE/text_len.npy      int32   [items]             number of words per item
    STORE/meta.json         item keys in row order, dimensions, source key

A folder made by ``python -m datasets.featurize`` holds such a store already packed
(``features/``, :data:`PACKED_DIR`): it is opened in place, and its dimensions (whatever
backbone and vocabulary made it) are the model's.

Text stays as word-id lists (a multi-hot vector of 2757 mostly-zeros is a gather-sum of a few
weight rows). The store directory is named by a key of the sources' content (zip entry CRCs and
sizes; for directories file names, sizes and modification times) and the requested items, so
a changed input builds a new store and never reuses a stale one. Writes go to a temporary
directory renamed into place, so an interrupted build leaves nothing half-written behind.
"""
from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import zipfile

import numpy as np

from core import files
from core.errors import DataError
from datasets import progress

PACKED_DIR = "features"
VISUAL_DIR = "polyvore_image_vectors"
TEXT_DIR = "polyvore_text_onehot_vectors"
STORE_VERSION = 2



class _Source(object):
    """Per-item JSON vectors from a directory or a zip archive."""

    def __init__(self, root, name):
        self.name = name
        directory = os.path.join(root, name)
        archive = directory + ".zip"
        self.zip = None
        if os.path.isdir(directory):
            self.path = directory
            self._members = None
        elif os.path.isfile(archive):
            self.path = archive
            try:  # members are CRC-checked as they are read, when the store is built
                self.zip = zipfile.ZipFile(archive)
            except (zipfile.BadZipFile, OSError) as err:
                raise DataError("{}: not a readable zip archive ({})".format(archive, err))
            self._members = {}
            for info in self.zip.infolist():
                base = os.path.basename(info.filename)
                if base.endswith(".json"):
                    self._members[base[:-5]] = info
        else:
            raise DataError("missing item features: neither {}/ nor {} exists".format(
                directory, archive))

    def _file(self, key):
        """The per-item file of ``key``, proven to stay in this folder (keys come from data)."""
        return files.path_under(self.path, files.plain_name(key, "item key") + ".json")

    def has(self, key):
        if self._members is not None:
            return key in self._members
        return os.path.isfile(self._file(key))

    def describe(self, key):
        if self._members is not None:
            return "{}:{}".format(self.path, self._members[key].filename)
        return self._file(key)

    def read(self, key):
        try:
            if self._members is not None:
                raw = self.zip.read(self._members[key])
            else:
                with open(self._file(key), "rb") as handle:
                    raw = handle.read()
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError,
                RecursionError) as err:
            raise DataError("{}: cannot parse item feature file ({})".format(
                self.describe(key), err))

    def content_key(self, keys):
        digest = hashlib.sha256()
        digest.update(self.path.encode())
        for key in keys:
            if self._members is not None:
                info = self._members.get(key)
                stamp = (info.CRC, info.file_size) if info is not None else None
            else:
                try:
                    stat = os.stat(self._file(key))
                    stamp = (stat.st_size, stat.st_mtime_ns)
                except OSError:
                    stamp = None
            digest.update("{}={};".format(key, stamp).encode())
        return digest.hexdigest()


def _check_vector(values, dim, where, binary=False):
    """A flat list of ``dim`` finite numbers (0/1 only when ``binary``) -> float32 array.

    Element types are checked with one C-level pass (``set(map(type, ...))``): JSON booleans,
    strings and nested lists would otherwise be coerced or fail deep inside numpy.
    """
    if not isinstance(values, list):
        raise DataError("{}: expected a JSON list of {} numbers, got {}".format(
            where, dim, type(values).__name__))
    if len(values) != dim:
        raise DataError("{}: vector has {} values, expected {}".format(where, len(values), dim))
    kinds = set(map(type, values))
    if not kinds <= {int, float}:
        odd = next(v for v in values if type(v) not in (int, float))
        raise DataError("{}: expected numbers, got {} {!r} at position {}".format(
            where, type(odd).__name__, odd, values.index(odd))[:300])
    array = np.asarray(values, dtype=np.float32)
    if not np.all(np.isfinite(array)):
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise DataError("{}: value {} at position {} is not finite".format(
            where, values[bad], bad))
    if binary and not np.all((array == 0) | (array == 1)):
        bad = int(np.flatnonzero((array != 0) & (array != 1))[0])
        raise DataError("{}: a multi-hot text vector holds 0 and 1 only, got {} at position "
                        "{}".format(where, values[bad], bad))
    return array


class FeatureStore(object):
    """Opened store: ``rows(keys)``, ``visual`` (memmap: read batches of it with
    :func:`datasets.arrays.read_rows`), ``text_ids``, ``text_len``."""

    def __init__(self, path):
        self.path = path
        self.meta = files.load_json(os.path.join(path, "meta.json"), "feature store meta")
        if not isinstance(self.meta, dict) or not isinstance(self.meta.get("keys"), list):
            raise DataError("{}: not a feature store's meta.json (no list of keys); "
                            "featurize again".format(os.path.join(path, "meta.json")))
        self.keys = self.meta["keys"]
        self._rows = {k: i for i, k in enumerate(self.keys)}
        self.visual = np.load(os.path.join(path, "visual.npy"), mmap_mode="r")
        self.text_ids = np.load(os.path.join(path, "text_ids.npy"))
        self.text_len = np.load(os.path.join(path, "text_len.npy"))
        self.visual_dim = int(self.meta["visual_dim"])
        self.vocab_size = int(self.meta["vocab_size"])

    def __len__(self):
        return len(self.keys)

    def __contains__(self, key):
        return key in self._rows

    def rows(self, keys):
        """Store rows of ``keys`` (an int64 array).

        Args:
          keys: item keys.

        Returns:
          int64 rows.
        """
        return np.asarray([self._rows[k] for k in keys], dtype=np.int64)


def open_packed(root):
    """The packed store of ``root/features/`` (made by ``datasets.featurize``), or None.

    Args:
      root: a data directory.

    Returns:
      A :class:`FeatureStore`, or None without ``root/features/``.

    Raises:
      DataError: a packed store that is incomplete or of another version.
    """
    path = os.path.join(root, PACKED_DIR)
    if not os.path.isfile(os.path.join(path, "meta.json")):
        return None
    try:
        return FeatureStore(path)
    except (OSError, ValueError, KeyError) as err:
        raise DataError("{}: not a readable feature store ({}: {}); run datasets.featurize "
                        "again".format(path, type(err).__name__, err))


def missing_items(root, keys):
    """Item keys without a visual or text feature file (cheap: names only).

    Args:
      root: a data directory.
      keys: item keys.

    Returns:
      ``(missing keys, the visual and text sources or None)``.
    """
    packed = open_packed(root)
    if packed is not None:
        return [k for k in keys if k not in packed], None
    visual, text = _Source(root, VISUAL_DIR), _Source(root, TEXT_DIR)
    return [k for k in keys if not (visual.has(k) and text.has(k))], (visual, text)


def build_or_open(root, keys, cache_dir, visual_dim=2048, vocab_size=2757, log=None):
    """Open the store for ``keys`` from the features under ``root``, building it if needed.

    Args:
      root: directory holding the two feature folders or zips, or a packed ``features/``.
      keys: item keys (``<set_id>_<index>``) to include, in the order of the store's rows.
      cache_dir: where stores live (one subdirectory per content key).
      visual_dim / vocab_size: expected lengths of the image and text vectors.

    Returns:
      A :class:`FeatureStore` with every key of ``keys``.

    Raises:
      DataError: a missing file, a vector of the wrong length, a NaN/inf value, a corrupt zip;
        each names the file and item.
    """
    keys = list(keys)
    packed = open_packed(root)
    if packed is not None:  # already packed: its own dimensions win over the defaults
        if log:
            log.info("feature store: %s (%d items, visual %d-d, vocabulary %d)", packed.path,
                     len(packed), packed.visual_dim, packed.vocab_size)
        return packed
    visual, text = _Source(root, VISUAL_DIR), _Source(root, TEXT_DIR)
    digest = hashlib.sha256()
    digest.update("v{};{};{};".format(STORE_VERSION, visual_dim, vocab_size).encode())
    digest.update(visual.content_key(keys).encode())
    digest.update(text.content_key(keys).encode())
    store_dir = os.path.join(cache_dir, "features-" + digest.hexdigest()[:20])
    if os.path.isfile(os.path.join(store_dir, "meta.json")):
        if log:
            log.info("feature store: reusing %s (%d items)", store_dir, len(keys))
        return FeatureStore(store_dir)
    if log:
        log.info("feature store: converting %d items from %s and %s (once)", len(keys),
                 visual.path, text.path)
    # KEEP: a concurrent build of the same content that finished first is used as it is
    with files.atomic_directory(store_dir, exists=files.KEEP) as tmp:
        _convert(visual, text, keys, tmp, visual_dim, vocab_size)
        with open(os.path.join(tmp, "meta.json"), "w") as handle:
            json.dump({"keys": keys, "visual_dim": visual_dim, "vocab_size": vocab_size,
                       "version": STORE_VERSION, "visual_source": visual.path,
                       "text_source": text.path}, handle)
    return FeatureStore(store_dir)


def _convert(visual, text, keys, out_dir, visual_dim, vocab_size):
    n = len(keys)
    vis = np.lib.format.open_memmap(os.path.join(out_dir, "visual.npy"), mode="w+",
                                    dtype=np.float32, shape=(n, visual_dim))
    word_lists = []
    bar = progress.bar(total=n, desc="packing item features", unit="item", mininterval=1.0,
                       disable=n < 2000)
    try:
        for i in range(n):
            if bar is not None:
                bar.update(1)
            key = keys[i]
            for source in (visual, text):
                if not source.has(key):
                    raise DataError("item {}: feature file {} is missing".format(
                        key, source.describe(key) if source.zip is None else
                        "{}:{}.json".format(source.path, key)))
            vis[i] = _check_vector(visual.read(key), visual_dim,
                                   "item {} ({})".format(key, visual.describe(key)))
            hot = _check_vector(text.read(key), vocab_size,
                                "item {} ({})".format(key, text.describe(key)), binary=True)
            word_lists.append(np.flatnonzero(hot > 0).astype(np.int32))
    finally:
        if bar is not None:
            bar.close()
    vis.flush()
    del vis
    width = max(1, max((len(w) for w in word_lists), default=1))
    ids = np.zeros((n, width), dtype=np.int32)
    lengths = np.zeros(n, dtype=np.int32)
    for i, words in enumerate(word_lists):
        ids[i, :len(words)] = words
        lengths[i] = len(words)
    np.save(os.path.join(out_dir, "text_ids.npy"), ids)
    np.save(os.path.join(out_dir, "text_len.npy"), lengths)
