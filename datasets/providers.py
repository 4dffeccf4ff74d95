"""Data providers: one per data family, holding the readers of that family's formats.

Why: format detection used to sit inside each task's ``prepare`` (a chain of ``if`` on file
names), so a new file format meant editing the task. A provider asks each registered
:class:`Reader` whether a folder holds its format, refuses a folder that two readers claim
(which one is meant would be a silent choice), names every format it knows when none
matches, and loads with the one that does. Adding a data set is adding a reader:
``provider.register(Reader(...))``, with no edit to the loop or the task
(``docs/extending.md`` walks through one, and a test runs it).

The families: :mod:`datasets.behaviour` (click logs for DIN: MovieLens, Amazon) and
:mod:`datasets.outfits` (outfits for NGNN: Polyvore in its three layouts).
"""
from __future__ import absolute_import, division, print_function

from core.errors import DataError


class Reader(object):
    """One file format of a data family.

    Args:
      name: a short name (messages, ``unregister``).
      describes: the files it reads, for the message when no format matches.
      detect: ``detect(root)`` -> whether ``root`` holds this format (it may raise a
        DataError when its own files are ambiguous).
      load: ``load(root, cache_dir, config, seed, log, synthetic)`` -> the family's data
        (see the family's module for what it returns).
    """

    def __init__(self, name, describes, detect, load):
        self.name = name
        self.describes = describes
        self.detect = detect
        self.load = load

    def __repr__(self):
        return "Reader({!r})".format(self.name)


class Provider(object):
    """The readers of one data family, asked in registration order.

    Args:
      family: what the family holds, for messages ("behaviour log", "outfit data set").
    """

    def __init__(self, family):
        self.family = family
        self.readers = []

    def register(self, reader):
        """Add ``reader`` (a :class:`Reader`); a reader of the same name is replaced.

        Returns:
          The reader.
        """
        self.unregister(reader.name)
        self.readers.append(reader)
        return reader

    def unregister(self, name):
        """Remove the reader called ``name`` (nothing when there is none)."""
        self.readers = [r for r in self.readers if r.name != name]

    def detect(self, root):
        """The reader of ``root``'s format, or None.

        Raises:
          DataError: two readers claim the folder (naming both).
        """
        found = [reader for reader in self.readers if reader.detect(root)]
        if len(found) > 1:
            raise DataError("{}: files of {} formats ({}): which data set is meant is "
                            "ambiguous; keep one in the folder".format(
                                root, len(found), ", ".join(r.describes for r in found)))
        return found[0] if found else None

    def load(self, root, cache_dir, config, seed=0, log=None, synthetic=False):
        """Read ``root`` with the reader of its format.

        Args:
          root: the data folder.
          cache_dir: where derived data is kept (content-keyed by each reader).
          config: the task's ``data`` section (typed; each reader reads its settings).
          seed: the run's seed.
          log: a logger.
          synthetic: ``root`` holds the embedded generated default.

        Returns:
          What the reader returns (the family's data).

        Raises:
          DataError: no format matches (every known one is named), or an ambiguous folder.
        """
        reader = self.detect(root)
        if reader is None:
            raise DataError("{}: no {} this version reads; expected one of: {}".format(
                root, self.family, "; ".join(r.describes for r in self.readers)))
        return reader.load(root, cache_dir, config, seed, log, synthetic)
