"""A small Polyvore Outfits release in the authors' layout (:mod:`datasets.outfits_release`),
written by this module: metadata, ``categories.csv``, JPEG images, both split folders with
their outfit lists and official-format questions.

Outfits have a top, a bottom, shoes and 0-2 jewellery items (so some repeat a category), in one
of two colour styles that the images and titles show; category 42 (brooches) is rare. FITB
answers are of the blank's semantic category, in an order where the true answer is rarely
first (its column is recorded); compatibility lines alternate true outfits and outfits of
random items of the same phase. Each description holds a word naming its phase
(``trainonly``, ``validonly``, ``testonly``), so a vocabulary can be checked for words of
items other than the training ones.
"""
import csv
import json
import os

import numpy as np

SEMANTIC = {11: "tops", 12: "tops", 21: "bottoms", 31: "shoes", 41: "jewellery",
            42: "jewellery"}
NAMES = {11: "T-Shirts", 12: "Blouses", 21: "Jeans", 31: "Boots", 41: "Bracelets",
         42: "Brooches"}
STYLES = (("red", (200, 30, 30)), ("blue", (30, 30, 200)))
# phase sizes (outfits) of each split; disjoint uses outfits of its own
SIZES = {"nondisjoint": {"train": 40, "valid": 8, "test": 10},
         "disjoint": {"train": 30, "valid": 6, "test": 8}}


def _jpeg(colour, rng):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    pixels = np.clip(np.asarray(colour)[None, None, :] + rng.normal(0, 20, (16, 16, 3)), 0,
                     255).astype(np.uint8)
    return tf.io.encode_jpeg(pixels).numpy()


def make_release(root, seed=0):
    """Write the release under ``root``; return ``{(split, phase): [outfit dicts]}`` and the
    questions written, ``{(split, phase): [question dicts]}``."""
    rng = np.random.RandomState(seed)
    os.makedirs(os.path.join(root, "images"))
    metadata, written, questions = {}, {}, {}
    counter = [9000000]

    def new_item(category, style, phase):
        counter[0] += 1
        item_id = str(counter[0])
        word, colour = STYLES[style]
        metadata[item_id] = {
            "url_name": "{} {}".format(word, NAMES[category].lower()),
            "title": "{} {} {}".format(word, ["soft", "bright", "classic"][counter[0] % 3],
                                       NAMES[category].lower()),
            "description": "a {} piece in {} {}only".format(SEMANTIC[category], word, phase),
            "category_id": str(category), "semantic_category": SEMANTIC[category],
            "catgeories": [], "related": []}
        with open(os.path.join(root, "images", item_id + ".jpg"), "wb") as handle:
            handle.write(_jpeg(colour, rng))
        return item_id

    set_number = [200000000]
    for split, phases in SIZES.items():
        os.makedirs(os.path.join(root, split))
        for phase, count in phases.items():
            outfits = []
            for _ in range(count):
                set_number[0] += 1
                style = rng.randint(2)
                cats = [11 if rng.rand() < 0.6 else 12, 21, 31]
                cats += [42 if rng.rand() < 0.08 else 41 for _ in range(rng.randint(3))]
                outfits.append({"set_id": str(set_number[0]),
                                "items": [{"item_id": new_item(c, style, phase), "index": i + 1}
                                          for i, c in enumerate(cats)]})
            written[split, phase] = outfits
            with open(os.path.join(root, split, phase + ".json"), "w") as handle:
                json.dump(outfits, handle)
            if phase == "train":
                continue
            questions[split, phase] = _questions(root, split, phase, outfits, metadata, rng)
    with open(os.path.join(root, "polyvore_item_metadata.json"), "w") as handle:
        json.dump(metadata, handle)
    with open(os.path.join(root, "categories.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        for category in sorted(NAMES):
            writer.writerow([category, NAMES[category], SEMANTIC[category]])
    return written, questions


def _questions(root, split, phase, outfits, metadata, rng):
    keyed = [("{}_{}".format(o["set_id"], it["index"]), it["item_id"]) for o in outfits
             for it in o["items"]]
    by_semantic = {}
    for key, item_id in keyed:
        by_semantic.setdefault(metadata[item_id]["semantic_category"], []).append(key)
    fitb = []
    for number, outfit in enumerate(outfits):
        keys = ["{}_{}".format(outfit["set_id"], it["index"]) for it in outfit["items"]]
        blank = rng.randint(len(keys))
        true = keys[blank]
        semantic = metadata[outfit["items"][blank]["item_id"]]["semantic_category"]
        others = [k for k in by_semantic[semantic] if not k.startswith(outfit["set_id"] + "_")]
        wrong = list(rng.choice(others, size=3, replace=len(others) < 3))
        answers = list(wrong)
        answers.insert((number + 1) % 4, true)  # the true answer's column varies
        fitb.append({"question": keys[:blank] + keys[blank + 1:], "answers": answers,
                     "blank_position": blank + 1})
    with open(os.path.join(root, split, "fill_in_blank_{}.json".format(phase)), "w") as handle:
        json.dump(fitb, handle)
    lines = []
    for outfit in outfits:
        keys = ["{}_{}".format(outfit["set_id"], it["index"]) for it in outfit["items"]]
        lines.append("1 " + " ".join(keys))
        fake = [rng.choice(by_semantic[metadata[it["item_id"]]["semantic_category"]])
                for it in outfit["items"]]
        lines.append("0 " + " ".join(fake))
    with open(os.path.join(root, split, "compatibility_{}.txt".format(phase)), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return fitb
