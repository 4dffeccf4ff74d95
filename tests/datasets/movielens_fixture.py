"""Small MovieLens folders in the three real layouts, written from one set of ratings so that
every layout must give the same samples. Users prefer two genres each (a planted signal: a
movie of a preferred genre is rated 4-5, others 1-3 mostly)."""
import os

import numpy as np

GENRES = ("Action", "Comedy", "Drama", "Film-Noir", "Horror", "Romance", "Sci-Fi", "Western")
GENRES_100K = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
               "Romance", "Sci-Fi", "Thriller", "War", "Western")


def catalogue(n_movies=60, seed=0):
    """[(movie id, title, [genres])]: ids sparse like MovieLens', 1-3 genres each (listed
    alphabetically, as MovieLens does), one movie without genres, an accented title."""
    rng = np.random.RandomState(seed)
    movies = []
    for number in range(n_movies):
        movie = 1 + 3 * number
        genres = sorted(set(rng.choice(GENRES, size=rng.randint(1, 4)).tolist()))
        if number == 5:
            genres = []
        title = "Amélie, or a film {} (2001)".format(number) if number == 7 else \
            "Film {} (1999)".format(number)
        movies.append((movie, title, genres))
    return movies


def ratings(movies, n_users=120, per_user=15, seed=0):
    """[(user, movie, rating, timestamp)]."""
    rng = np.random.RandomState(seed + 1)
    out = []
    for user in range(1, n_users + 1):
        liked = set(rng.choice(GENRES, size=2, replace=False).tolist())
        picks = rng.choice(len(movies), size=per_user, replace=False)
        for step, index in enumerate(picks):
            movie, _, genres = movies[index]
            good = bool(liked & set(genres))
            rating = int(rng.randint(4, 6) if good else rng.randint(1, 4))
            out.append((user, movie, rating, 978300000 + 1000 * user + 10 * step))
    return out


def write(root, layout, movies, rows):
    """Write ``movies`` and ``rows`` in ``layout`` (csv, dat or 100k) under ``root``."""
    os.makedirs(root, exist_ok=True)
    if layout == "csv":
        with open(os.path.join(root, "ratings.csv"), "w", encoding="utf-8") as handle:
            handle.write("userId,movieId,rating,timestamp\n")
            for user, movie, rating, time in rows:
                handle.write("{},{},{}.0,{}\n".format(user, movie, rating, time))
        with open(os.path.join(root, "movies.csv"), "w", encoding="utf-8") as handle:
            handle.write("movieId,title,genres\n")
            for movie, title, genres in movies:
                handle.write('{},"{}",{}\n'.format(movie, title, "|".join(genres) or
                                                   "(no genres listed)"))
    elif layout == "dat":
        with open(os.path.join(root, "ratings.dat"), "w", encoding="latin-1") as handle:
            for user, movie, rating, time in rows:
                handle.write("{}::{}::{}::{}\n".format(user, movie, rating, time))
        with open(os.path.join(root, "movies.dat"), "w", encoding="latin-1") as handle:
            for movie, title, genres in movies:
                handle.write("{}::{}::{}\n".format(movie, title, "|".join(genres)))
    else:
        with open(os.path.join(root, "u.data"), "w", encoding="latin-1") as handle:
            for user, movie, rating, time in rows:
                handle.write("{}\t{}\t{}\t{}\n".format(user, movie, rating, time))
        with open(os.path.join(root, "u.item"), "w", encoding="latin-1") as handle:
            for movie, title, genres in movies:
                flags = ["1" if g in genres else "0" for g in GENRES_100K]
                if not genres:
                    flags[0] = "1"
                handle.write("|".join([str(movie), title, "01-Jan-1999", "",
                                       "http://example.org"] + flags) + "\n")
    return root
