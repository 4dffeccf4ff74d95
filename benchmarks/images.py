"""Real-size JPEG folders for the featurization benchmarks.

Polyvore item images are 600x600 JPEGs of ~20-60 KB. With ``../shared`` present the 38 real
sample images are copied round-robin (real content, real decode cost); without it, smooth
random 600x600 images are written as JPEGs of similar size.
"""
from __future__ import absolute_import, division, print_function

import os
import shutil

import numpy as np

SHARED_IMAGES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             os.pardir, "shared", "data", "polyvore", "images-sample")


def jpeg_files(folder, n, seed=0):
    """Write ``n`` JPEG files into ``folder``; return their paths.

    Args:
      folder: where to write.
      n: how many.
      seed: the pixels' seed.

    Returns:
      A list of paths.
    """
    os.makedirs(folder, exist_ok=True)
    real = []
    if os.path.isdir(SHARED_IMAGES):
        for set_id in sorted(os.listdir(SHARED_IMAGES)):
            sub = os.path.join(SHARED_IMAGES, set_id)
            real += [os.path.join(sub, f) for f in sorted(os.listdir(sub))]
    paths = []
    rng = np.random.RandomState(seed)
    for i in range(n):
        path = os.path.join(folder, "{}.jpg".format(i))
        if real:
            shutil.copy(real[i % len(real)], path)
        else:
            import tensorflow as tf  # pylint: disable=import-outside-toplevel

            coarse = rng.randint(0, 256, size=(1, 8, 8, 3)).astype(np.float32)
            image = tf.image.resize(coarse, [600, 600], method="bicubic")[0]
            image = tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8)
            tf.io.write_file(path, tf.io.encode_jpeg(image, quality=90))
        paths.append(path)
    return paths
