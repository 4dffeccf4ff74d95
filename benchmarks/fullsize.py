"""Full-size behaviour data: preprocessing time and peak memory, and a training process's peak
memory, on files of the real shapes GENERATED here (never committed).

::

    python -m benchmarks.fullsize [--rows 2000000 20000000] [--shapes movielens amazon2018]
        [--train-steps 30] [--out benchmarks/results/fullsize.json]

Shapes (:func:`write_movielens`, :func:`write_amazon2018`):

* ``movielens``: MovieLens-20M's ``ratings.csv`` / ``movies.csv`` (20,000,263 ratings of
  138,493 users, 26,744 movies, 20 genres; 20+ ratings per user, heavy-tailed, each of a
  distinct movie); at another row count the users scale with it, the movies stay.
* ``amazon2018``: Amazon 2018 Electronics' ``Electronics.json`` / ``meta_Electronics.json``
  (20,994,353 reviews, ~9.8M reviewers, ~756k products; most reviewers write 1-2 reviews and
  are dropped by the 3-event rule); users and products scale with the row count. Review lines
  hold the fields the reader uses plus ``overall``, ``verified`` and ``reviewTime``, not the
  review text (the real file is ~5x larger per line; parsing time grows with it).

Each measurement runs in a fresh child process (``--child``, through
:func:`benchmarks.child.run_python`), whose own peak resident memory and wall time are
recorded: preprocessing = reading the files and writing the sample cache
(:func:`datasets.movielens.load` / :func:`datasets.amazon.load`); training =
``training.fit --model din`` on that cache for ``--train-steps`` steps, then evaluation of the
whole validation and test splits (with the rules). ``model_tables_mib`` is what the embedding
tables take with their gradients and Adam slots (float32): it grows with the
catalogue, which the Amazon shape scales with the rows.
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

import numpy as np

MOVIELENS_20M = {"ratings": 20000263, "users": 138493, "movies": 26744}
AMAZON_2018 = {"reviews": 20994353, "users": 9838676, "items": 756489}
GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance",
          "Sci-Fi", "Thriller", "War", "Western", "(no genres listed)")
CHUNK = 1000000


def _zipf_items(rng, n, items, exponent=0.9):
    """``n`` item indices 0..items-1, popular ones more often (rank ** -exponent)."""
    weights = 1.0 / np.arange(1, items + 1) ** exponent
    cdf = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cdf, rng.random_sample(n)), items - 1)


def _counts(rng, total, users, low, tail):
    """Events per user: ``low`` plus a heavy tail, summing to exactly ``total``."""
    extra = rng.pareto(tail, users) + 1.0
    extra *= max(total - low * users, 0) / extra.sum()
    counts = low + np.floor(extra).astype(np.int64)
    short = total - counts.sum()
    counts[rng.choice(users, size=abs(int(short)))] += int(np.sign(short))
    return np.maximum(counts, 1)


def write_movielens(folder, rows, seed=0):
    """MovieLens-20M-shaped ``ratings.csv`` and ``movies.csv`` with ``rows`` ratings.

    Args:
      folder: where (created).
      rows: ratings.
      seed: the generator's seed.

    Returns:
      ``{ratings, users, movies}`` written.
    """
    rng = np.random.RandomState(seed)
    os.makedirs(folder, exist_ok=True)
    movies = MOVIELENS_20M["movies"]
    users = max(10, int(round(MOVIELENS_20M["users"] * rows / MOVIELENS_20M["ratings"])))
    counts = np.minimum(_counts(rng, rows, users, 20, 1.6), movies)
    # each user rates distinct movies, as in MovieLens: movie k of user u is
    # (start_u + k * step_u) mod movies, step_u odd and coprime to 26,744 = 2^3 * 3343
    start_of, step_of = rng.randint(movies, size=users), 2 * rng.randint(1, 1000, size=users) + 1
    first = np.r_[0, np.cumsum(counts)[:-1]]
    with open(os.path.join(folder, "movies.csv"), "w") as handle:
        handle.write("movieId,title,genres\n")
        for movie in range(1, movies + 1):
            picked = rng.choice(len(GENRES) - 1, size=rng.randint(1, 4), replace=False)
            handle.write('{},"Movie {} (1999)",{}\n'.format(
                movie, movie, "|".join(GENRES[g] for g in sorted(picked))))
    user_of = np.repeat(np.arange(1, users + 1), counts)
    with open(os.path.join(folder, "ratings.csv"), "w") as handle:
        handle.write("userId,movieId,rating,timestamp\n")
        for start in range(0, len(user_of), CHUNK):
            user = user_of[start:start + CHUNK]
            n = len(user)
            k = start + np.arange(n) - first[user - 1]
            movie = (start_of[user - 1] + k * step_of[user - 1]) % movies + 1
            rating = rng.randint(1, 11, size=n) / 2.0
            stamp = 946684800 + start + np.arange(n)
            handle.write("".join("{},{},{},{}\n".format(u, m, r, t) for u, m, r, t in
                                 zip(user.tolist(), movie.tolist(), rating.tolist(),
                                     stamp.tolist())))
    return {"ratings": int(len(user_of)), "users": users, "movies": movies}


def write_amazon2018(folder, rows, seed=0):
    """Amazon-2018-Electronics-shaped ``Electronics.json`` and ``meta_Electronics.json``.

    Args:
      folder: where (created).
      rows: reviews.
      seed: the generator's seed.

    Returns:
      ``{reviews, users, items}`` written.
    """
    rng = np.random.RandomState(seed)
    os.makedirs(folder, exist_ok=True)
    scale = rows / AMAZON_2018["reviews"]
    users = max(10, int(round(AMAZON_2018["users"] * scale)))
    items = max(10, int(round(AMAZON_2018["items"] * scale)))
    counts = _counts(rng, rows, users, 1, 1.2)
    with open(os.path.join(folder, "meta_Electronics.json"), "w") as handle:
        leaves = ["Leaf {}".format(c) for c in range(800)]
        for item in range(items):
            handle.write(json.dumps({"asin": "B{:09d}".format(item), "main_cat": "All Electronics",
                                     "category": ["Electronics", "Accessories",
                                                  leaves[item % len(leaves)]]}) + "\n")
    user_of = np.repeat(np.arange(users), counts)
    order = rng.permutation(len(user_of))  # the file is not grouped by user
    with open(os.path.join(folder, "Electronics.json"), "w") as handle:
        for start in range(0, len(order), CHUNK):
            picked = order[start:start + CHUNK]
            user = user_of[picked]
            item = _zipf_items(rng, len(picked), items, 0.8)
            stamp = 1300000000 + picked * 7
            stars = rng.randint(1, 6, size=len(picked))
            handle.write("".join(
                '{{"overall": {}.0, "verified": true, "reviewTime": "01 1, 2015", '
                '"reviewerID": "A{:013d}", "asin": "B{:09d}", "unixReviewTime": {}}}\n'.format(
                    s, u, i, t) for s, u, i, t in zip(stars.tolist(), user.tolist(),
                                                      item.tolist(), stamp.tolist())))
    return {"reviews": int(len(user_of)), "users": users, "items": items}


WRITERS = {"movielens": write_movielens, "amazon2018": write_amazon2018}


def _child(args):
    """One measurement in this (fresh) process; prints a JSON line (its peak memory is read by
    the parent)."""
    start = time.time()
    if args.child == "preprocess":
        from datasets import amazon, movielens  # pylint: disable=import-outside-toplevel
        if args.shape == "movielens":
            sample_set, _ = movielens.load(args.data, os.path.join(args.cache, "movielens"))
        else:
            sample_set = amazon.load(args.data, os.path.join(args.cache, "amazon"))
        extra = {"sizes": sample_set.sizes,
                 "rows": {k: v.num_rows for k, v in sample_set.splits.items()},
                 "report": sample_set.report}
    else:
        from training import fit  # pylint: disable=import-outside-toplevel
        code = fit.main(["--model", "din", "--data-dir", args.data, "--epochs", "1",
                         "--output-dir", os.path.join(args.cache, "run"), "--overwrite",
                         "--set", "data.cache_dir={}".format(args.cache),
                         "--set", "train.steps_per_epoch={}".format(args.train_steps)])
        with open(os.path.join(args.cache, "run", "metrics.json")) as handle:
            metrics = json.load(handle)
        sizes = metrics["data"]["sizes"]
        # the embedding tables grow with the catalogue (Amazon: with the rows), not the rows:
        # float32 weights, gradients and two Adam slots of (items + categories) x dim
        dim = metrics["config"]["model"]["embedding_dim"]
        tables = (sizes["items"] + sizes["categories"]) * dim * 4 * 4
        extra = {"exit_code": code, "rows": metrics.get("rows"), "test": metrics.get("test"),
                 "sizes": sizes, "model_tables_mib": round(tables / 2.0 ** 20, 1)}
    print(json.dumps(dict(extra, seconds=round(time.time() - start, 1))))
    return 0


def _measure(kind, shape, data, cache, train_steps):
    """One child measurement (:func:`benchmarks.child.run_python`: its own peak memory)."""
    from benchmarks import child  # pylint: disable=import-outside-toplevel

    log_path = os.path.join(os.path.dirname(cache), kind + ".log")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    code, seconds, peak = child.run_python(
        "-m", "benchmarks.fullsize", ["--child", kind, "--shape", shape, "--data", data,
                                      "--cache", cache, "--train-steps", str(train_steps)],
        log_path, env=env)
    with open(log_path) as handle:
        output = handle.read()
    if code:
        raise RuntimeError("{} {} failed:\n{}".format(kind, shape, output[-3000:]))
    return dict(json.loads(output.strip().splitlines()[-1]), process_seconds=round(seconds, 1),
                peak_mib=round(peak, 1))


def run(rows_list, shapes, train_steps, workdir):
    """Every (shape, rows) measurement: generate, preprocess, train.

    Args:
      rows_list: row counts.
      shapes: keys of :data:`WRITERS`.
      train_steps: training steps of the training measurement.
      workdir: scratch space (each case's files removed after it).

    Returns:
      A list of records.
    """
    records = []
    for shape in shapes:
        for rows in rows_list:
            case = os.path.join(workdir, "{}-{}".format(shape, rows))
            data, cache = os.path.join(case, "data"), os.path.join(case, "cache")
            start = time.time()
            written = WRITERS[shape](data, rows)
            generated = time.time() - start
            size = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data))
            pre = _measure("preprocess", shape, data, cache, train_steps)
            train = _measure("train", shape, data, cache, train_steps)
            records.append({"shape": shape, "rows": rows, "written": written,
                            "file_bytes": size, "generate_seconds": round(generated, 1),
                            "preprocess": pre, "train": dict(train, steps=train_steps)})
            print(json.dumps(records[-1]), flush=True)
            shutil.rmtree(case, ignore_errors=True)
    return records


def main(argv=None):
    """CLI entry point (see the module docstring).

    Args:
      argv: the arguments.

    Returns:
      0.
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fullsize")
    parser.add_argument("--rows", type=int, nargs="+", default=[2000000, 20000000])
    parser.add_argument("--shapes", nargs="+", default=list(WRITERS), choices=list(WRITERS))
    parser.add_argument("--train-steps", type=int, default=30)
    parser.add_argument("--out", default=os.path.join("benchmarks", "results", "fullsize.json"))
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary "
                        "one)")
    parser.add_argument("--child", choices=["preprocess", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    workdir = args.workdir or tempfile.mkdtemp(prefix="npurec-fullsize-")
    try:
        records = run(args.rows, args.shapes, args.train_steps, workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "date": time.strftime("%Y-%m-%d"), "records": records}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
