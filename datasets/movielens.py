"""MovieLens for DIN, read natively: ratings and movies files in, DIN's samples out.

The DIN paper's second data set (MovieLens-20M). Layouts, detected by their files:

* ``ratings.csv`` + ``movies.csv`` (ml-20m, ml-25m, ml-latest, ml-latest-small): CSV with a
  header, ``userId,movieId,rating,timestamp`` and ``movieId,title,genres`` (UTF-8, titles
  quoted when they hold commas);
* ``ratings.dat`` + ``movies.dat`` (ml-1m, ml-10m): ``UserID::MovieID::Rating::Timestamp``
  and ``MovieID::Title::Genres`` (ml-1m is Latin-1);
* ``u.data`` + ``u.item`` (ml-100k): tab-separated ``user item rating timestamp``, and
  ``|``-separated movies with 19 genre flags (Latin-1).

The protocol (the paper's; recorded in ``metrics.json`` as ``data.protocol``):

* labels from ratings: 4 and 5 positive, the rest negative;
* split by USER, not by time: users are shuffled with the seed and 70 % train, 10 %
  validation, 20 % test (the paper: 100,000 training and 38,493 test users, ~72/28);
* every rating after a user's first is a row: the history is the user's previously rated
  movies (all ratings, the most recent ``maxlen``), the candidate the movie rated;
* the category is a GENRE. A movie with several genres gets its RAREST one across the catalogue
  (ties by name): MovieLens lists genres alphabetically, so "the first" would be arbitrary,
  and the rarest is the most specific ("Film-Noir" over "Drama"), which is what makes "the
  candidate's genre is in the history" informative. A movie without genres gets
  ``(no genres listed)``.
"""
from __future__ import absolute_import, division, print_function

import collections
import os

import numpy as np
import pandas as pd

from datasets import samples
from core import numbers
from core.errors import DataError

#: layout name -> (ratings file, movies file)
LAYOUTS = collections.OrderedDict([
    ("csv", ("ratings.csv", "movies.csv")),
    ("dat", ("ratings.dat", "movies.dat")),
    ("100k", ("u.data", "u.item")),
])
GENRES_100K = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
               "Romance", "Sci-Fi", "Thriller", "War", "Western")
NO_GENRE = "(no genres listed)"
SPLIT_SHARES = (0.7, 0.1, 0.2)  # train, validation, test users
CACHE_VERSION = 3  # 2: ratings as feedback, the running statistics; 3: split cuts rounded
PROTOCOL = {"dataset": "movielens", "label": "rating >= 4 is positive",
            "negatives": "real: the ratings below 4 (none are sampled)",
            "split": "by user, shuffled with the seed: 70% train, 10% validation, 20% test",
            "history": "the user's previously rated movies (all ratings), most recent maxlen",
            "feedback": "each history event's rating",
            "category": "the movie's rarest genre in the catalogue (ties by name)"}


def detect(data_dir):
    """The MovieLens layout in ``data_dir``, or None.

    Args:
      data_dir: a folder.

    Returns:
      A key of :data:`LAYOUTS`, or None.

    Raises:
      DataError: files of two layouts (e.g. ``ratings.csv`` and ``u.data``): which one is
        meant is ambiguous, and using one without a word would be a silent choice.
    """
    found = [name for name, (ratings, movies) in LAYOUTS.items()
             if os.path.isfile(os.path.join(data_dir, ratings)) and
             os.path.isfile(os.path.join(data_dir, movies))]
    if len(found) > 1:
        raise DataError("{}: MovieLens files of {} layouts ({}): keep one layout's files in a "
                        "folder".format(data_dir, len(found), ", ".join(
                            " + ".join(LAYOUTS[name]) for name in found)))
    return found[0] if found else None


def _id_ok(column):
    """Which values of a string column are ids (:data:`core.numbers.DIGITS`), blanks
    around them allowed."""
    return column.fillna("").str.strip().str.fullmatch(numbers.DIGITS)


def _bad(path, line, what, on_bad_line, report):
    if on_bad_line == "error":
        raise DataError("{}:{}: {}. Use data.on_bad_line=skip to skip such lines "
                        "(counted).".format(path, line, what))
    report["skipped_lines:" + os.path.basename(path)] += 1


def _text(path, encoding):
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as err:
        raise DataError("{}: bytes that are not {} at offset {}".format(path, encoding,
                                                                        err.start))


def _table(path, layout, kind):
    """The file as a DataFrame of strings, one row per line, with its line numbers."""
    if layout == "csv":
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (ValueError, pd.errors.ParserError) as err:
            raise DataError("{}: not a readable CSV ({})".format(path, err))
        frame["_line"] = np.arange(len(frame)) + 2  # the header is line 1
        return frame
    text = _text(path, "latin-1")  # ml-1m and ml-100k are Latin-1 (accented titles)
    if layout == "dat":
        sep, names = "::", (("user", "item", "rating", "time") if kind == "ratings"
                            else ("item", "title", "genres"))
    elif kind == "ratings":
        sep, names = "\t", ("user", "item", "rating", "time")
    else:
        sep, names = "|", ("item", "title", "date", "video", "url") + GENRES_100K
    lines = text.splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if layout == "dat" and kind == "movies":  # a title may hold "::" (never the id)
            head, _, rest = line.partition(sep)
            title, _, genres = rest.rpartition(sep)
            parts = [head, title, genres] if rest and sep in rest else [line]
        else:
            parts = line.split(sep)
        rows.append(parts + [number] if len(parts) == len(names) else [None] * len(names)
                    + [number])
    frame = pd.DataFrame(rows, columns=list(names) + ["_line"])
    return frame


def _numeric_csv_ratings(path):
    """``ratings.csv`` parsed as numbers in C, when EVERY line is well formed: the common case,
    and the one that fits at full size (20M ratings as numbers are ~0.6 GB; as the strings
    the checked path reads, several GB). None when any line is not: the checked path then
    reads the file again and names the line."""
    columns = {"userId": np.int64, "movieId": np.int64, "rating": np.float64,
               "timestamp": np.int64}
    try:
        frame = pd.read_csv(path, usecols=list(columns), dtype=columns, engine="c")
    except (ValueError, TypeError, OverflowError, pd.errors.ParserError):
        return None
    ok = ((frame["userId"] >= 0) & (frame["movieId"] >= 0) & frame["rating"].between(0, 10) &
          (frame["timestamp"] >= 0) & (frame["timestamp"] < 2 ** 53))
    if not ok.all():
        return None
    return pd.DataFrame({"user": frame["userId"].to_numpy(), "item": frame["movieId"].to_numpy(),
                         "rating": frame["rating"].to_numpy(),
                         "time": frame["timestamp"].to_numpy()})


def read_ratings(path, layout, on_bad_line="error", report=None):
    """Ratings as a DataFrame (user, item, rating, time), every field checked.

    Args:
      path: the ratings file.
      layout: a key of :data:`LAYOUTS`.
      on_bad_line: ``error`` (stop, naming file and line) or ``skip`` (count it).
      report: a Counter (updated).

    Returns:
      The DataFrame (user and item ids as integers, or as strings when a line had to be
      checked one by one; rating float, time int64).

    Raises:
      DataError: a malformed line with ``on_bad_line="error"``, or a file without the
        columns.
    """
    report = report if report is not None else collections.Counter()
    if layout == "csv":
        fast = _numeric_csv_ratings(path)
        if fast is not None:
            return fast
    frame = _table(path, layout, "ratings")
    if layout == "csv":
        missing = {"userId", "movieId", "rating", "timestamp"} - set(frame.columns)
        if missing:
            raise DataError("{}: no column(s) {} (MovieLens ratings.csv has userId, movieId, "
                            "rating, timestamp)".format(path, ", ".join(sorted(missing))))
        frame = frame.rename(columns={"userId": "user", "movieId": "item",
                                      "timestamp": "time"})
    rating = pd.to_numeric(frame["rating"], errors="coerce")
    time = pd.to_numeric(frame["time"], errors="coerce")
    ids_ok = _id_ok(frame["user"]) & _id_ok(frame["item"])
    ok = ids_ok & rating.between(0, 10) & time.notna() & (time >= 0) & (time < 2 ** 53) & \
        (time == np.floor(time.fillna(0)))
    for line in frame.loc[~ok, "_line"].tolist():
        _bad(path, line, "expected integer user and movie ids (ASCII digits, at most 18), a rating and a whole "
             "non-negative timestamp", on_bad_line, report)
    frame = frame.loc[ok]
    return pd.DataFrame({"user": frame["user"].str.strip().to_numpy(),
                         "item": frame["item"].str.strip().to_numpy(),
                         "rating": rating[ok].to_numpy(np.float64),
                         "time": time[ok].to_numpy(np.int64)})


def read_movies(path, layout, on_bad_line="error", report=None):
    """Each movie's genres.

    Args:
      path: the movies file.
      layout: a key of :data:`LAYOUTS`.
      on_bad_line: ``error`` or ``skip`` (counted).
      report: a Counter (updated).

    Returns:
      ``{movie id (str): [genres]}``.

    Raises:
      DataError: a malformed line with ``on_bad_line="error"``, or a file without the
        columns.
    """
    report = report if report is not None else collections.Counter()
    frame = _table(path, layout, "movies")
    if layout == "csv":
        missing = {"movieId", "genres"} - set(frame.columns)
        if missing:
            raise DataError("{}: no column(s) {} (MovieLens movies.csv has movieId, title, "
                            "genres)".format(path, ", ".join(sorted(missing))))
        frame = frame.rename(columns={"movieId": "item"})
    genres = {}
    for row in frame.to_dict("records"):  # one per MOVIE (tens of thousands): loading only
        item = (row.get("item") or "").strip()
        if numbers.parse_whole(item) is None:
            _bad(path, row["_line"], "expected a movie id (ASCII digits, at most 18) and its "
                 "genres", on_bad_line, report)
            continue
        if item in genres:  # a movie listed twice: the first line is kept, and counted
            report["duplicate_movie_lines_dropped:" + os.path.basename(path)] += 1
            continue
        if layout == "100k":
            flags = [row.get(g) for g in GENRES_100K]
            if any(f not in ("0", "1") for f in flags):
                _bad(path, row["_line"], "expected 19 genre flags of 0 or 1", on_bad_line,
                     report)
                continue
            names = [g for g, f in zip(GENRES_100K, flags) if f == "1" and g != "unknown"]
        else:
            names = [g for g in (row.get("genres") or "").split("|")
                     if g and g != NO_GENRE]
        genres[item] = names
    return genres


def primary_genres(genres):
    """The category of each movie: its rarest genre in the catalogue (ties by name).

    Args:
      genres: ``{movie: [genres]}``.

    Returns:
      ``{movie: genre}`` (:data:`NO_GENRE` for a movie without one).
    """
    count = collections.Counter(g for names in genres.values() for g in set(names))
    return {movie: min(names, key=lambda g: (count[g], g)) if names else NO_GENRE
            for movie, names in genres.items()}


def build_samples(ratings, movie_genre, maxlen=20, seed=0, report=None):
    """DIN's samples under the MovieLens protocol (module docstring).

    Args:
      ratings: :func:`read_ratings`' DataFrame.
      movie_genre: :func:`primary_genres`' mapping.
      maxlen: most recent history items kept.
      seed: the user split's seed.
      report: a Counter of what was dropped (updated).

    Returns:
      ``(sequence, splits, sizes, vocab, feedback)`` as :func:`datasets.amazon.build_samples`
      (training rows in a seeded random order; the feedback of an event is its rating).

    Raises:
      DataError: no user with 2 or more ratings in some split.
    """
    report = report if report is not None else collections.Counter()
    # ids as numbers whichever reader made them (the checked reader keeps strings)
    frame = pd.DataFrame({"user": ratings["user"].astype(np.int64),
                          "item": ratings["item"].astype(np.int64),
                          "rating": ratings["rating"], "time": ratings["time"]})
    movie_genre = {int(movie): genre for movie, genre in movie_genre.items()}
    unknown = ~frame["item"].isin(set(movie_genre))
    report["ratings_of_movies_missing_from_movies_file"] += int(unknown.sum())
    frame["category"] = frame["item"].map(movie_genre).fillna(NO_GENRE)
    repeated = frame.duplicated(["user", "item"], keep="first")
    report["duplicate_user_movie_ratings_dropped"] += int(repeated.sum())
    frame = frame.loc[~repeated]
    item_codes, item_keys = pd.factorize(frame["item"].astype(np.int64), sort=True)
    frame["item_id"] = item_codes + 1
    cat_of_item = frame.drop_duplicates("item_id").set_index("item_id")["category"].sort_index()
    cat_codes, cat_keys = pd.factorize(cat_of_item, sort=True)
    item_to_cat = np.zeros(len(item_keys) + 1, dtype=np.int32)
    item_to_cat[cat_of_item.index.to_numpy()] = cat_codes + 1
    user_codes, user_keys = pd.factorize(frame["user"].astype(np.int64), sort=True)
    frame["user_id"] = user_codes
    frame = frame.sort_values(["user_id", "time", "item_id"], kind="mergesort")
    users = frame["user_id"].to_numpy().astype(np.int64)
    items = frame["item_id"].to_numpy().astype(np.int32)
    labels = (frame["rating"].to_numpy() >= 4).astype(np.int32)
    feedback, feedback_names = samples.feedback_codes(frame["rating"].to_numpy(np.float64))
    del frame
    event, _, _, hist_len = samples.events(users, maxlen)
    prior_events, prior_positives = samples.prior_stats(users, labels)
    order = np.random.RandomState(seed).permutation(len(user_keys))
    share = np.cumsum(SPLIT_SHARES)[:-1]
    # rounded first: cumsum((0.7, 0.1, 0.2)) is 0.7999..., which floored 10 users to 7/0/3
    cut = np.floor(np.round(share * len(user_keys), 6)).astype(np.int64)
    split_of_user = np.zeros(len(user_keys), np.int64)
    split_of_user[order[cut[0]:cut[1]]] = 1
    split_of_user[order[cut[1]:]] = 2
    split_of = split_of_user[users[event]]
    splits = {}
    for code, name in enumerate(samples.SPLITS):
        picked = np.flatnonzero(split_of == code)
        rows = event[picked]
        if not len(rows):
            raise DataError("no {} rows: too few users with 2 or more ratings ({} users "
                            "in all)".format(name, len(user_keys)))
        cat_events, cat_positives = samples.category_prior(
            users, item_to_cat[items], labels, users[rows], rows, item_to_cat[items[rows]])
        splits[name] = samples.records(users[rows], rows, hist_len[picked], items[rows],
                                       item_to_cat[items[rows]], labels[rows],
                                       prior_events[rows], prior_positives[rows],
                                       cat_events, cat_positives)
    splits["train"] = samples.shuffled(splits["train"], seed + 1)
    sizes = {"items": len(item_keys) + 1, "categories": len(cat_keys) + 1,
             "users": len(user_keys), "events": int(len(users))}
    vocab = {"items": np.asarray([""] + [str(k) for k in item_keys]),
             "categories": np.asarray([""] + [str(k) for k in cat_keys]),
             "item_category": item_to_cat, "feedback": np.asarray(feedback_names),
             "feedback_liked": np.asarray([0] + [float(n) >= 4 for n in feedback_names[1:]],
                                          np.int8)}
    return items, splits, sizes, vocab, feedback


def load(data_dir, cache_dir, maxlen=20, seed=0, on_bad_line="error", log=None):
    """MovieLens samples from ``data_dir``, cached by content and parameters.

    Args:
      data_dir: a MovieLens folder (any layout of :data:`LAYOUTS`).
      cache_dir: where processed samples are kept.
      maxlen: history length.
      seed: the user split's seed.
      on_bad_line: ``error`` or ``skip`` (counted).
      log: a logger for what was dropped (WARNING) and where the cache is.

    Returns:
      ``(sample set, protocol)``: a :class:`datasets.samples.SampleSet` and how its rows and
      labels were made.

    Raises:
      UsageError: a ``maxlen`` whose batches cannot fit in memory.
      DataError: no MovieLens layout, a malformed line or file (named).
    """
    layout = detect(data_dir)
    if layout is None:
        raise DataError("{}: no MovieLens files ({})".format(data_dir, "; ".join(
            " + ".join(pair) for pair in LAYOUTS.values())))
    inputs = [os.path.join(data_dir, name) for name in LAYOUTS[layout]]
    protocol = dict(PROTOCOL, layout=layout)
    params = {"maxlen": maxlen, "seed": seed, "on_bad_line": on_bad_line,
              "version": CACHE_VERSION, "protocol": protocol, "samples": samples.VERSION}
    samples.check_maxlen(maxlen)
    path = os.path.join(cache_dir, "movielens-{}".format(samples.file_key(inputs, params)))

    def build(report):
        ratings = read_ratings(inputs[0], layout, on_bad_line, report)
        genres = primary_genres(read_movies(inputs[1], layout, on_bad_line, report))
        return build_samples(ratings, genres, maxlen=maxlen, seed=seed, report=report) + \
            (protocol,)

    return samples.cached(path, build, maxlen, "movielens", log), protocol
