"""Item images -> fixed-size vectors with a ``keras.applications`` backbone, fast and resumable.

NGNN's visual input is InceptionV3's 2048-d global max-pooled activation (``include_top=False,
pooling="max"``). The authors resized images to 229x229, which is not InceptionV3's native 299;
the size is an option here (default: the backbone's native size). Other backbones bring their
own input scaling and output dimension; the store records which one made the vectors.

Speed: JPEG decode + resize run in parallel in ``tf.data`` (decoding is by content, so a PNG
named ``.jpg``, a grayscale or a CMYK JPEG all come out RGB); the backbone runs on whole
batches inside one ``tf.function`` on the GPU when TensorFlow sees one. Images that cannot be
decoded are dropped by the pipeline (``ignore_errors``) and identified afterwards by their
missing row, then decoded once more on their own to get the reason for the report.

Resume: vectors are written in chunks (``part-*.npz``, each renamed into place when complete)
under a folder named by the encoder's settings (:attr:`ImageEncoder.tag`); an item is reused
when its key, file size and modification time match. An interrupted run loses at most the
chunk it was filling.

This is the only module of ``datasets`` that uses Keras, through :mod:`core.compat` (the one
module that knows Keras 2 from Keras 3) and :mod:`core.precision` (the one precision table).
"""
from __future__ import absolute_import, division, print_function

import collections
import glob
import hashlib
import json
import os
import time

import numpy as np

from core import files
from core.errors import DataError
from core.precision import KERAS_POLICY, PRECISIONS

#: name -> (keras.applications constructor, input scaling, native size). Scalings are Keras'
#: ``imagenet_utils`` modes, written out so they run inside tf.data on Keras 2 and 3 alike.
BACKBONES = collections.OrderedDict([
    ("inception_v3", ("InceptionV3", "tf", 299)),
    ("resnet50", ("ResNet50", "caffe", 224)),
    ("efficientnetb0", ("EfficientNetB0", "none", 224)),  # rescales inside the model
    ("mobilenet_v2", ("MobileNetV2", "tf", 224)),
])
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
WEIGHTS_HELP = ("Either run once with network access (Keras downloads the ImageNet weights into "
                "its cache, ~/.keras/models, and reuses them offline), or pass --weights FILE: "
                "a Keras weights file of the same backbone without its top (e.g. "
                "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5). --weights none "
                "gives untrained, random features (tests only).")


class ImageEncoder(object):
    """A built backbone plus its input pipeline.

    Args:
      backbone: a key of :data:`BACKBONES`.
      weights: ``imagenet``, a weights file, or ``none`` (random; tests only).
      image_size: square input size; None = the backbone's native size.
      precision: ``fp32``, ``mixed`` (float16 compute) or ``bf16``; the vectors are float32.
      batch_size: images per backbone call.
    Raises:
      DataError: unknown backbone, missing/unloadable weights file, ImageNet weights that
        cannot be had (the message says both ways to get them).
    """

    def __init__(self, backbone="inception_v3", weights="imagenet", image_size=None,
                 precision="fp32", batch_size=32):
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        from core import compat  # pylint: disable=import-outside-toplevel

        if backbone not in BACKBONES:
            raise DataError("--backbone {!r}: choose one of {}".format(
                backbone, ", ".join(BACKBONES)))
        if precision not in PRECISIONS:
            raise DataError("--precision {!r}: choose {}".format(precision, ", ".join(PRECISIONS)))
        constructor, self.scaling, native = BACKBONES[backbone]
        self.backbone = backbone
        self.image_size = int(image_size or native)
        if self.image_size < 75:
            raise DataError("--image-size {}: keras.applications backbones need 75+".format(
                self.image_size))
        self.batch_size = int(batch_size)
        self.precision = precision
        self.weights_id = _weights_identity(weights)
        if weights == "none":  # each random init differs: its vectors are never reused
            self.weights_id = "none-" + os.urandom(6).hex()
        # the global policy is restored at once: the caller's models are not affected
        with compat.global_policy(KERAS_POLICY[precision]):
            self.model = _build(getattr(compat.keras.applications, constructor), backbone,
                                weights, self.image_size)
        self.dim = int(self.model.output_shape[-1])
        model = self.model

        @tf.function(input_signature=[tf.TensorSpec([None, self.image_size, self.image_size, 3],
                                                    tf.float32)])
        def encode(images):
            return tf.cast(model(images, training=False), tf.float32)

        self._encode = encode

    @property
    def tag(self):
        """Names the settings that determine the vectors (the resume cache's folder)."""
        text = json.dumps([self.backbone, self.image_size, self.weights_id, self.precision,
                           "max-pool", 1])
        return "{}-{}-{}".format(self.backbone, self.image_size,
                                 hashlib.sha256(text.encode()).hexdigest()[:12])

    def describe(self):
        """The encoder's settings as a JSON-able dict (for the store and the report).

        Returns:
          A dict.
        """
        return {"backbone": self.backbone, "image_size": self.image_size, "dim": self.dim,
                "weights": self.weights_id, "precision": self.precision, "pooling": "max"}

    def _dataset(self, paths):
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        from datasets.pipeline import (  # pylint: disable=import-outside-toplevel
            without_autotune_model)

        size, scaling = self.image_size, self.scaling

        def load(row, path):
            raw = tf.io.read_file(path)
            is_jpeg = tf.io.is_jpeg(raw)
            channels = tf.cond(is_jpeg, lambda: tf.io.extract_jpeg_shape(raw)[2],
                               lambda: tf.constant(-1, tf.int32))
            image = tf.io.decode_image(raw, channels=3, expand_animations=False)
            image = tf.image.resize(image, [size, size], antialias=True)
            return row, _scale(image, scaling), channels

        rows = np.arange(len(paths), dtype=np.int64)
        decoded = (tf.data.Dataset.from_tensor_slices((rows, [str(p) for p in paths]))
                   .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))
        decoded = (decoded.ignore_errors() if hasattr(decoded, "ignore_errors")  # TF >= 2.12
                   else decoded.apply(tf.data.experimental.ignore_errors()))
        return without_autotune_model(decoded.batch(self.batch_size).prefetch(2))

    def encode_files(self, paths, progress=None):
        """Yield ``(rows, vectors [k, dim] float32, channels [k])`` batch by batch.

        ``rows`` index ``paths``; rows that never appear could not be decoded (see
        :func:`decode_error`). ``channels`` is the JPEG's component count (1 grayscale,
        3 colour, 4 CMYK) or -1 for an image that is not a JPEG.

        Args:
          paths: image files.
          progress: a progress bar to advance, or None.

        Yields:
          ``(rows, vectors, channels)`` of the images that decoded.
        """
        for rows, images, channels in self._dataset(paths):
            vectors = self._encode(images).numpy()
            if progress is not None:
                progress(len(vectors))
            yield rows.numpy(), vectors, channels.numpy()


def _scale(image, mode):
    """Keras' ImageNet input scalings, on a float32 RGB image in [0, 255]."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    if mode == "tf":
        return image / 127.5 - 1.0
    if mode == "caffe":
        return image[..., ::-1] - tf.constant(_CAFFE_MEAN_BGR, tf.float32)
    return image


def _weights_identity(weights):
    if weights in ("imagenet", "none"):
        return weights
    if not os.path.isfile(weights):
        raise DataError("--weights {}: no such file. {}".format(weights, WEIGHTS_HELP))
    digest = hashlib.sha256()
    with open(weights, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "file:" + digest.hexdigest()[:16]


def _build(constructor, backbone, weights, size):
    keras_weights = None if weights == "none" else weights
    try:
        return constructor(include_top=False, weights=keras_weights, pooling="max",
                           input_shape=(size, size, 3))
    except Exception as err:  # pylint: disable=broad-except
        # Keras raises a bare Exception for a failed download, ValueError/OSError for a bad
        # file; either way the user must be told what was tried and the two ways out.
        what = ("the ImageNet weights of {} could not be loaded".format(backbone)
                if weights == "imagenet" else
                "--weights {}: not loadable as {} weights without the top".format(
                    weights, backbone))
        raise DataError("{} ({}: {}). {}".format(what, type(err).__name__,
                                                 str(err).splitlines()[0][:300] if str(err)
                                                 else "", WEIGHTS_HELP))


def decode_error(path):
    """Why ``path`` cannot be decoded (None if it can): decoded alone, eagerly.

    Args:
      path: an image file.

    Returns:
      The first line of the error, or None.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    try:
        tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return None
    except (tf.errors.OpError, ValueError) as err:
        text = getattr(err, "message", None) or str(err)
        return text.strip().splitlines()[0][:200] if text.strip() else type(err).__name__


def file_stamp(path):
    """(size, mtime_ns) of a file: an image edited since it was encoded is encoded again.

    Args:
      path: a file.

    Returns:
      ``(size, mtime_ns)``.
    """
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


class PartCache(object):
    """Finished chunks of vectors for one encoder setting: ``folder/part-*.npz``.

    Each part holds ``keys`` (str), ``stamps`` [k, 2] int64 and ``vectors`` [k, dim]; it is
    written to a temporary name and renamed, so a part on disk is always complete. Loaded
    without pickle.
    """

    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def _parts(self):
        return sorted(glob.glob(os.path.join(self.folder, "part-*.npz")))

    def index(self):
        """``{key: (stamp, part path, row)}`` of every cached vector (newest part wins).

        Returns:
          ``{key: (stamp, part path, row)}``.
        """
        found = {}
        for path in self._parts():
            try:
                with np.load(path, allow_pickle=False) as part:
                    keys, stamps = part["keys"], part["stamps"]
            except (OSError, ValueError, KeyError):
                continue  # an unreadable part is recomputed, never trusted
            for row, key in enumerate(keys.tolist()):
                found[key] = (tuple(int(s) for s in stamps[row]), path, row)
        return found

    def write(self, keys, stamps, vectors):
        """Write one complete chunk of vectors (a ``part-*.npz``, atomically).

        Args:
          keys: item keys.
          stamps: each file's :func:`file_stamp`.
          vectors: [k, dim] float32.
        """
        if not len(keys):
            return
        name = "part-{:.6f}-{}.npz".format(time.time(), os.getpid())
        with files.atomic_file(os.path.join(self.folder, name), "wb") as handle:
            np.savez(handle, keys=np.asarray(keys, dtype=str),
                     stamps=np.asarray(stamps, dtype=np.int64).reshape(-1, 2),
                     vectors=np.asarray(vectors, dtype=np.float32))

    def gather(self, wanted, out):
        """Fill ``out[row]`` for ``{key: (row, entry)}`` (``entry`` from :meth:`index`),
        reading each part once.

        Args:
          wanted: ``{key: (row, entry)}``.
          out: the [n, dim] array to fill.
        """
        by_part = collections.defaultdict(list)
        for row, (_, path, part_row) in wanted.values():
            by_part[path].append((row, part_row))
        for path, pairs in by_part.items():
            with np.load(path, allow_pickle=False) as part:
                vectors = part["vectors"]
                rows = np.asarray([r for r, _ in pairs])
                out[rows] = vectors[np.asarray([p for _, p in pairs])]
