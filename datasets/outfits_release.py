"""Reading the Polyvore Outfits release (Vasileva et al., ECCV 2018) as its authors distribute it.

Layout (checked against the authors' public loader, ``polyvore_outfits.py`` of
``mvasil/fashion-compatibility``)::

    polyvore_outfits/
      polyvore_item_metadata.json   {item_id: {title, description, url_name, category_id,
                                               semantic_category, ...}}
      categories.csv                category_id,fine name,semantic category  (no header; names)
      images/<item_id>.jpg
      nondisjoint/ and disjoint/    one folder per split, each with
        train.json valid.json test.json       [{set_id, items: [{item_id, index}, ...]}, ...]
        fill_in_blank_{valid,test}.json       [{question: [keys], answers: [keys],
                                                blank_position}, ...]
        compatibility_{valid,test}.txt        lines "label key key ..."

A question names items by ``<set_id>_<index>`` keys of the outfits of the SAME phase's outfit
file (``valid.json`` for ``*_valid``, ``test.json`` for ``*_test``). As in the authors' loader,
the true FITB answer is the one candidate whose set id (the part of its key before the first
``_``) is the question's set id (that of its first item), whatever its position among the
candidates; ``blank_position`` is where the answer goes in the outfit, counted from 1 (the
question lists the other items in order).

Every reader here checks types and names the file, the line or question, and the item of
anything it refuses (:class:`core.errors.DataError`, exit 2).
"""
from __future__ import absolute_import, division, print_function

import csv
import os

from core import files
from core.errors import DataError
from core.numbers import parse_whole

SPLITS = ("nondisjoint", "disjoint")
PHASES = ("train", "valid", "test")
QUESTION_PHASES = ("valid", "test")
METADATA_FILE = "polyvore_item_metadata.json"
CATEGORIES_FILE = "categories.csv"
IMAGES_DIR = "images"
CANDIDATES = 4


def outfit_file(split, phase):
    """``<split>/<phase>.json``, relative to the release root.

    Args:
      split / phase: which split and phase.

    Returns:
      The relative path.
    """
    return os.path.join(split, "{}.json".format(phase))


def fitb_file(split, phase):
    """``<split>/fill_in_blank_<phase>.json``, relative to the release root.

    Args:
      split / phase: which split and phase.

    Returns:
      The relative path.
    """
    return os.path.join(split, "fill_in_blank_{}.json".format(phase))


def compat_file(split, phase):
    """``<split>/compatibility_<phase>.txt``, relative to the release root.

    Args:
      split / phase: which split and phase.

    Returns:
      The relative path.
    """
    return os.path.join(split, "compatibility_{}.txt".format(phase))


def split_files(split):
    """Every file a split needs, relative to the release root.

    Args:
      split: ``nondisjoint`` or ``disjoint``.

    Returns:
      A list of relative paths.
    """
    return ([outfit_file(split, p) for p in PHASES] +
            [fitb_file(split, p) for p in QUESTION_PHASES] +
            [compat_file(split, p) for p in QUESTION_PHASES])


def is_release(root):
    """Whether ``root`` looks like the raw release (its metadata file is there).

    Args:
      root: a folder.

    Returns:
      bool.
    """
    return os.path.isfile(os.path.join(root, METADATA_FILE))


def splits_present(root):
    """The splits of ``root`` that have their folder.

    Args:
      root: the release (or a featurized output).

    Returns:
      A list, in :data:`SPLITS` order.
    """
    return [s for s in SPLITS if os.path.isdir(os.path.join(root, s))]


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value, where):
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DataError("{}: expected a string, got {!r}".format(where, value)[:300])
    return value


class Item(object):
    """One item's metadata: ``category_id`` (int), ``semantic`` (str) and ``text`` (the title
    and the description joined; the url name when both are empty)."""
    __slots__ = ("category_id", "semantic", "text")

    def __init__(self, category_id, semantic, text):
        self.category_id = category_id
        self.semantic = semantic
        self.text = text


def read_metadata(root, wanted=None):
    """``polyvore_item_metadata.json`` -> ``{item_id: Item}`` (only ``wanted`` ids if given).

    The text rule: ``title + " " + description``; when both are empty, the ``url_name`` (the
    authors' loader fell back to it when the title was empty).

    Args:
      root: the release root.
      wanted: item ids to read (None: all).

    Returns:
      ``{item_id: Item}``.

    Raises:
      DataError: a missing or malformed file, an entry without an integer ``category_id`` or
        a ``semantic_category`` (item named), a wanted item that is absent.
    """
    path = os.path.join(root, METADATA_FILE)
    raw = files.load_json(path, "Polyvore Outfits item metadata")
    if not isinstance(raw, dict):
        raise DataError("{}: expected a JSON object {{item_id: metadata}}".format(path))
    ids = raw.keys() if wanted is None else wanted
    out = {}
    for item_id in ids:
        entry = raw.get(item_id)
        where = "{}: item {}".format(path, item_id)
        if entry is None:
            raise DataError("{} is named by an outfit list but has no metadata entry".format(
                where))
        if not isinstance(entry, dict):
            raise DataError("{}: expected an object, got {!r}".format(where, entry)[:300])
        given = entry.get("category_id")
        category = parse_whole(given)
        if category is None:
            raise DataError("{}: category_id must be a whole number (or a string of ASCII "
                            "digits), got {!r}".format(where, given)[:300])
        semantic = entry.get("semantic_category")
        if not isinstance(semantic, str) or not semantic.strip():
            raise DataError("{}: semantic_category must be a non-empty string, got "
                            "{!r}".format(where, semantic)[:300])
        text = " ".join(t for t in (_text(entry.get("title"), where + " title"),
                                    _text(entry.get("description"), where + " description"))
                        if t.strip())
        if not text.strip():
            text = _text(entry.get("url_name"), where + " url_name")
        out[item_id] = Item(category, semantic.strip(), text)
    return out


def read_category_names(root):
    """``categories.csv`` -> ``{category_id: (fine name, semantic name)}``; {} without it.

    Args:
      root: the release root.

    Returns:
      The names (used for reports and ``vocab.json``; the semantic category of an item comes
      from its metadata).

    Raises:
      DataError: a row that is not ``id,name,semantic`` with an integer id (file:line named).
    """
    path = os.path.join(root, CATEGORIES_FILE)
    if not os.path.isfile(path):
        return {}
    names = {}
    lines = (text for _, text in files.text_lines(path, "categories file"))
    for line, row in enumerate(csv.reader(lines), 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 3 or parse_whole(row[0]) is None:
            raise DataError("{}:{}: expected category_id,fine name,semantic category, got "
                            "{!r}".format(path, line, row)[:300])
        names[parse_whole(row[0])] = (row[1].strip(), row[2].strip())
    return names


def read_outfits(root, split, phase):
    """One outfit list -> ``[(set_id, [(key, item_id)])]`` in file order.

    ``key`` is ``<set_id>_<index>``, the name questions use. Checked: set ids are unique, one
    path component and without ``_`` (keys are split at the first ``_``, as the authors do);
    item ids are one path component (they name image files); indices are integers, unique
    within an outfit.

    Args:
      root: the release root (or a featurized output, which holds byte copies).
      split: ``nondisjoint`` or ``disjoint``.
      phase: ``train``, ``valid`` or ``test``.

    Returns:
      The outfits.

    Raises:
      DataError: a missing file or a malformed outfit (file, position and field named).
    """
    path = os.path.join(root, outfit_file(split, phase))
    raw = files.load_json(path, "{} {} outfit list".format(split, phase))
    if not isinstance(raw, list):
        raise DataError("{}: expected a JSON list of outfits".format(path))
    seen = set()
    outfits = []
    for position, outfit in enumerate(raw):
        where = "{}: outfit #{}".format(path, position)
        if not isinstance(outfit, dict) or not isinstance(outfit.get("items"), list):
            raise DataError("{}: expected {{set_id, items: [{{item_id, index}}]}}, got "
                            "{!r}".format(where, outfit)[:300])
        set_id = outfit.get("set_id")
        if _is_int(set_id):
            set_id = str(set_id)
        if not isinstance(set_id, str):
            raise DataError("{}: set_id must be a string, got {!r}".format(where, set_id)[:300])
        set_id = files.plain_name(set_id, where + ": set_id")
        if "_" in set_id:
            raise DataError("{}: set_id {!r} holds '_', which separates a question key's set id "
                            "from its index".format(where, set_id)[:300])
        if set_id in seen:
            raise DataError("{}: set_id {} appears twice in the file".format(where, set_id))
        seen.add(set_id)
        members, indices = [], set()
        for entry in outfit["items"]:
            item_id = entry.get("item_id") if isinstance(entry, dict) else None
            index = entry.get("index") if isinstance(entry, dict) else None
            if _is_int(item_id):
                item_id = str(item_id)
            if not isinstance(item_id, str) or not _is_int(index):
                raise DataError("{} (set {}): each item is {{\"item_id\": a string, \"index\": "
                                "an integer}}, got {!r}".format(where, set_id, entry)[:300])
            item_id = files.plain_name(item_id, "{} (set {}): item_id".format(where, set_id))
            if index in indices:
                raise DataError("{} (set {}): index {} appears twice".format(
                    where, set_id, index))
            indices.add(index)
            members.append(("{}_{}".format(set_id, index), item_id))
        outfits.append((set_id, members))
    return outfits


def key_index(outfits):
    """``{key: item_id}`` of an outfit list (what questions resolve their keys with).

    Args:
      outfits: :func:`read_outfits`' result.

    Returns:
      The mapping.
    """
    return {key: item_id for _, members in outfits for key, item_id in members}


def _resolve(keys, index, where, source):
    if not isinstance(keys, list) or not keys:
        raise DataError("{}: expected a non-empty list of item keys, got {!r}".format(
            where, keys)[:300])
    out = []
    for key in keys:
        if not isinstance(key, str) or key not in index:
            raise DataError("{}: names item {!r}, which is in no outfit of {} (a question of "
                            "another split or phase?)".format(where, key, source)[:300])
        out.append(index[key])
    return out


def read_fitb(root, split, phase, index):
    """Fill-in-the-blank questions -> ``[(question item ids, answer item ids, true answer
    position, blank position counted from 0)]`` in file order, candidates in file order.

    Args:
      root: the release root or a featurized output.
      split / phase: which file.
      index: :func:`key_index` of the same phase's outfit list.

    Returns:
      The questions.

    Raises:
      DataError: a malformed question, a key of no outfit of the phase, not exactly one
        candidate of the question's own set, a blank position out of range (question named).
    """
    path = os.path.join(root, fitb_file(split, phase))
    raw = files.load_json(path, "{} {} fill-in-the-blank".format(split, phase))
    if not isinstance(raw, list):
        raise DataError("{}: expected a JSON list of questions".format(path))
    source = os.path.join(root, outfit_file(split, phase))
    out = []
    for number, entry in enumerate(raw):
        where = "{}: question #{}".format(path, number)
        if not isinstance(entry, dict):
            raise DataError("{}: expected {{question, answers, blank_position}}".format(where))
        question, answers = entry.get("question"), entry.get("answers")
        blank = entry.get("blank_position")
        items = _resolve(question, index, where + " question", source)
        options = _resolve(answers, index, where + " answers", source)
        if len(options) != CANDIDATES:
            raise DataError("{}: has {} answers; expected {}".format(
                where, len(options), CANDIDATES))
        own = question[0].split("_", 1)[0]
        correct = [i for i, key in enumerate(answers) if key.split("_", 1)[0] == own]
        if len(correct) != 1:
            raise DataError("{}: {} answers are of the question's set {} (expected exactly "
                            "one: that is how the true answer is known)".format(
                                where, len(correct), own))
        if not _is_int(blank) or not 1 <= blank <= len(items) + 1:
            raise DataError("{}: blank_position must be an integer in 1..{}, got "
                            "{!r}".format(where, len(items) + 1, blank)[:300])
        out.append((items, options, correct[0], blank - 1))
    return out


def read_compatibility(root, split, phase, index):
    """Compatibility lists -> ``[(item ids, label)]`` in file order.

    Args:
      root: the release root or a featurized output.
      split / phase: which file.
      index: :func:`key_index` of the same phase's outfit list.

    Returns:
      The outfits and their labels (1 compatible, 0 not).

    Raises:
      DataError: a line that is not ``0|1 key key ...``, or a key of no outfit of the phase
        (file:line named).
    """
    path = os.path.join(root, compat_file(split, phase))
    if not os.path.isfile(path):
        raise DataError("missing {} {} compatibility file: {}".format(split, phase, path))
    source = os.path.join(root, outfit_file(split, phase))
    out = []
    for line_no, line in files.text_lines(path, "compatibility file"):
        fields = line.split()
        if not fields:
            continue
        where = "{}:{}".format(path, line_no)
        if fields[0] not in ("0", "1") or len(fields) < 3:
            raise DataError("{}: expected '0|1 key key ...' (a label and 2+ item keys), got "
                            "{!r}".format(where, line.strip())[:300])
        out.append((_resolve(fields[1:], index, where, source), int(fields[0])))
    if not out:
        raise DataError("{}: no compatibility lines".format(path))
    return out
