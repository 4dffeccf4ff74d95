"""Fetch MovieLens-100k at check time and write it in its own layout (``u.data`` + ``u.item``).

    python -m benchmarks.movielens_100k --out /tmp/ml-100k
    python -m training.fit --model din --data-dir /tmp/ml-100k

MovieLens' terms forbid redistributing the data, so the project ships none of it. The
``recbole==1.2.1`` wheel (MIT) carries ML-100k as RecBole atomic files
(``ml-100k.inter``: user, item, rating, timestamp; ``ml-100k.item``: item, title, year, genres
separated by spaces); this fetches the wheel with ``pip download --no-deps`` (from the package
registry: nothing to install) and converts the two files into the GroupLens release's own
layout, which :mod:`datasets.movielens` reads: ``u.data`` (``user<TAB>item<TAB>rating<TAB>
timestamp``) and ``u.item`` (``item|title|date|video|url|`` and the 19 genre flags, Latin-1).
The ratings are the release's 100,000, byte for byte the same numbers.
"""
from __future__ import absolute_import, division, print_function

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "recbole==1.2.1"
INSIDE = "recbole/dataset_example/ml-100k/"


def fetch_wheel(folder):
    """``pip download`` the wheel into ``folder``; its path.

    Args:
      folder: where to put it.

    Returns:
      The wheel's path.

    Raises:
      RuntimeError: pip failed (no registry, no such version).
    """
    done = subprocess.run([sys.executable, "-m", "pip", "download", WHEEL, "--no-deps",
                           "--quiet", "-d", folder], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    wheels = glob.glob(os.path.join(folder, "recbole-*.whl"))
    if done.returncode or not wheels:
        raise RuntimeError("pip download {} failed:\n{}".format(WHEEL, done.stdout[-2000:]))
    return wheels[0]


def convert(wheel, out):
    """Write ``out/u.data`` and ``out/u.item`` from the wheel's atomic files.

    Args:
      wheel: the recbole wheel.
      out: the output folder (created).

    Returns:
      ``(ratings, movies)`` written.
    """
    from datasets import movielens  # pylint: disable=import-outside-toplevel

    with zipfile.ZipFile(wheel) as archive:
        inter = archive.read(INSIDE + "ml-100k.inter").decode("utf-8").splitlines()
        items = archive.read(INSIDE + "ml-100k.item").decode("utf-8").splitlines()
    os.makedirs(out, exist_ok=True)
    ratings = 0
    with open(os.path.join(out, "u.data"), "w") as handle:
        for line in inter[1:]:  # the header names the atomic fields
            user, item, rating, stamp = line.split("\t")
            handle.write("{}\t{}\t{}\t{}\n".format(user, item, int(float(rating)),
                                                   int(float(stamp))))
            ratings += 1
    with open(os.path.join(out, "u.item"), "w", encoding="latin-1") as handle:
        for line in items[1:]:
            item, title, _, genres = (line.split("\t") + ["", "", ""])[:4]
            present = set(genres.split())
            flags = ["1" if g in present else "0" for g in movielens.GENRES_100K]
            handle.write("|".join([item, title.replace("|", " "), "", "", ""] + flags) + "\n")
    return ratings, len(items) - 1


def main(argv=None):
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for u.data and u.item")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        ratings, movies = convert(fetch_wheel(folder), args.out)
    print("wrote {} ratings of {} movies to {}".format(ratings, movies, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
