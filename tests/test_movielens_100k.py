"""benchmarks.movielens_100k: the RecBole atomic files of ML-100k become the release's own
layout, which datasets.movielens reads (a wheel made here: the real one is fetched at check
time, never committed)."""
import zipfile

import numpy as np

from benchmarks import movielens_100k
from datasets import movielens


def test_atomic_files_become_u_data_and_u_item(tmp_path):
    wheel = str(tmp_path / "recbole-1.2.1-py3-none-any.whl")
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    rng = np.random.RandomState(0)
    for user in range(1, 31):
        for k in range(6):
            inter.append("{}\t{}\t{}\t{}".format(user, 1 + (user + k) % 8, rng.randint(1, 6),
                                                 880000000 + 100 * k + user))
    items = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    items += ["{}\tMovie {}\t1995\t{}".format(i, i, "Film-Noir Children's" if i % 2 else
                                              "Drama Sci-Fi") for i in range(1, 9)]
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(movielens_100k.INSIDE + "ml-100k.inter", "\n".join(inter) + "\n")
        archive.writestr(movielens_100k.INSIDE + "ml-100k.item", "\n".join(items) + "\n")
    out = str(tmp_path / "ml-100k")
    assert movielens_100k.convert(wheel, out) == (180, 8)
    assert movielens.detect(out) == "100k"
    ratings = movielens.read_ratings(out + "/u.data", "100k")
    assert len(ratings) == 180 and ratings["rating"].between(1, 5).all()
    genres = movielens.read_movies(out + "/u.item", "100k")
    assert genres["1"] == ["Children's", "Film-Noir"] and genres["2"] == ["Drama", "Sci-Fi"]
