"""A small Polyvore release in the public schema around the 38 real item images of
``../shared/data/polyvore/images-sample`` (their real names and categories are not published,
so the metadata here is made up, deterministic, and chosen to exercise the split rule).

Layout written under ``root``: ``images/<set_id>/<index>.jpg`` (copies of the real JPEGs) and
``outfits/{train,valid,test}_no_dup.json`` (Maryland schema). 8 outfits of 4-5 items: 5 train,
1 valid, 2 test. Categories 11, 22, 33, 44 are common; category 99 occurs once in training, so
the split rule with ``min_category_items=3`` drops that item (its outfit keeps 4 items).
"""
import json
import os
import shutil

from tests.conftest import SHARED, SHARED_REASON

IMAGES = os.path.join(SHARED, "data", "polyvore", "images-sample")
SIZES = (5, 5, 5, 5, 4, 5, 5, 4)
SPLITS = (("train", 5), ("valid", 1), ("test", 2))
CATEGORIES = (11, 22, 33, 44)
KINDS = {11: "leather bag", 22: "denim jeans", 33: "silk top", 44: "ankle boots",
         99: "gold ring"}
COLOURS = ("black", "white", "blue", "red")
REASON = SHARED_REASON + " (its 38 real item images in data/polyvore/images-sample)"


def have_images():
    return os.path.isdir(IMAGES)


def sources():
    """The 38 real image files, in a fixed order."""
    files = []
    for set_id in sorted(os.listdir(IMAGES)):
        folder = os.path.join(IMAGES, set_id)
        files += [os.path.join(folder, f) for f in
                  sorted(os.listdir(folder), key=lambda f: int(f.split(".")[0]))]
    return files


def make_release(root):
    """Write the release; return ``(images_dir, outfits_dir, outfits)`` where ``outfits`` is
    ``{split: [outfit dicts]}`` as written."""
    images, outfits_dir = os.path.join(root, "images"), os.path.join(root, "outfits")
    os.makedirs(outfits_dir)
    files = iter(sources())
    written, number = {}, 0
    for split, count in SPLITS:
        written[split] = []
        for _ in range(count):
            set_id = str(1000 + number)
            items = []
            for index in range(1, SIZES[number] + 1):
                category = CATEGORIES[(number + index) % len(CATEGORIES)]
                if number == 0 and index == 1:
                    category = 99  # the one rare category
                folder = os.path.join(images, set_id)
                os.makedirs(folder, exist_ok=True)
                shutil.copy(next(files), os.path.join(folder, "{}.jpg".format(index)))
                items.append({"index": index, "price": 10.0, "likes": 3,
                              "name": "{} {}".format(COLOURS[(number * 3 + index) % 4],
                                                     KINDS[category]),
                              "image": "data/images/{}/{}.jpg".format(set_id, index),
                              "categoryid": category})
            written[split].append({"set_id": set_id, "name": "outfit", "items": items,
                                   "likes": 1, "views": 1})
            number += 1
        with open(os.path.join(outfits_dir, "{}_no_dup.json".format(split)), "w") as handle:
            json.dump(written[split], handle)
    return images, outfits_dir, written
