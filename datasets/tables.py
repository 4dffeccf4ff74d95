"""Item features as TensorFlow inputs: gathered on the host per batch, or held in a variable.

Training and evaluation gather each batch's item vectors from the feature store on the host,
in the input pipeline (:func:`host_lookup`): the store stays a file, so a real-size NGNN process
does not hold the 931 MB visual table a second time (measured in docs/performance.md, Memory), and
the gather overlaps the previous step. A serving export has to carry the features with it, so
it holds them in variables (:func:`device_table`) that its compiled function gathers from.
"""
from __future__ import absolute_import, division, print_function

import numpy as np
import tensorflow as tf

from datasets.arrays import read_rows

FEATURE_KEYS = ("visual", "text_ids", "text_mask")


def text_mask(text_len, width):
    """float32 [rows, width]: 1 where a row's word list has a word.

    Args:
      text_len: words per row.
      width: the padded word-list width.

    Returns:
      [rows, width] float32.
    """
    return (np.arange(width)[None, :] < np.asarray(text_len)[:, None]).astype(np.float32)


def host_lookup(store):
    """A function ``items -> {"visual", "text_ids", "text_mask"}`` for use in ``tf.data``.

    ``store`` is a :class:`datasets.features.FeatureStore` (or anything with its ``visual``,
    ``text_ids`` and ``text_len`` arrays). ``items``: an int tensor of store rows of any
    static shape S; the outputs have shapes S + [F], S + [W], S + [W] (static when S is).
    The rows are read with :func:`datasets.arrays.read_rows` (vectorised; a memory-mapped
    store's pages do not become this process's memory).

    Args:
      store: a :class:`datasets.features.FeatureStore`.

    Returns:
      The lookup function (numpy inside ``tf.numpy_function``).
    """
    visual_dim = int(store.visual.shape[1])
    width = int(store.text_ids.shape[1])

    def gather(items):
        flat = np.asarray(items, dtype=np.int64).reshape(-1)
        return (read_rows(store.visual, flat).astype(np.float32, copy=False),
                np.asarray(store.text_ids[flat], dtype=np.int32),
                text_mask(store.text_len[flat], width))

    def lookup(items):
        items = tf.convert_to_tensor(items)
        visual, ids, mask = tf.numpy_function(gather, [items],
                                              [tf.float32, tf.int32, tf.float32],
                                              stateful=False, name="feature_rows")
        shape = tf.shape(items)
        static = items.shape.as_list()
        out = {}
        for key, value, size in (("visual", visual, visual_dim), ("text_ids", ids, width),
                                 ("text_mask", mask, width)):
            value = tf.reshape(value, tf.concat([shape, [size]], axis=0))
            value.set_shape(static + [size])
            out[key] = value
        return out

    return lookup


def device_table(array, name, rows_per_chunk=4096):
    """A non-trainable variable holding ``array``, filled in chunks of rows.

    Why: ``tf.Variable(array)`` first converts the whole array into a temporary tensor that
    the variable then copies, and for the store's memory-mapped ``visual.npy`` it also
    touches every page of the mapping (file pages count as this process's resident memory):
    ~3x the table at the peak (docs/performance.md, Memory). Here the variable
    starts as zeros and takes one chunk at a time, read with
    :func:`datasets.arrays.read_rows`.

    Args:
      array: the table (possibly memory-mapped).
      name: the variable's name.
      rows_per_chunk: rows copied per assignment.

    Returns:
      A non-trainable ``tf.Variable``.
    """
    shape, dtype = tuple(array.shape), np.dtype(array.dtype)
    # numpy's zeros are pages never touched (calloc): only the variable's own copy is resident
    table = tf.Variable(np.zeros(shape, dtype), trainable=False, name=name)
    for start in range(0, shape[0], rows_per_chunk):
        stop = min(start + rows_per_chunk, shape[0])
        table[start:stop].assign(read_rows(array, np.arange(start, stop)))
    return table


def device_tables(store):
    """The store's features as variables ``{"visual", "text_ids", "text_mask"}``.

    Args:
      store: a :class:`datasets.features.FeatureStore`.

    Returns:
      ``{"visual", "text_ids", "text_mask": tf.Variable}``.
    """
    width = int(store.text_ids.shape[1])
    return {"visual": device_table(store.visual, "visual_table"),
            "text_ids": tf.Variable(np.asarray(store.text_ids, np.int32), trainable=False,
                                    name="text_ids_table"),
            "text_mask": tf.Variable(text_mask(store.text_len, width), trainable=False,
                                     name="text_mask_table")}


def gather_tables(tables, items):
    """``{"visual", "text_ids", "text_mask"}`` of ``items`` from :func:`device_tables`
    (inside a compiled function, so the tables stay where they are).

    Args:
      tables: :func:`device_tables`.
      items: int store rows.

    Returns:
      ``{name: tensor}``.
    """
    return {key: tf.gather(tables[key], items) for key in FEATURE_KEYS}
