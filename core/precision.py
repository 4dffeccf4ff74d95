"""The names of devices and precisions, and what each precision means on each device.

The one list that ``--device``/``--precision`` (``training.fit``, ``benchmarks.run``), the
``runtime`` config section and :mod:`training.infra.runtime` read. Kept free of TensorFlow so that the
command line can refuse a bad name before TensorFlow starts.
"""
from __future__ import absolute_import, division, print_function

DEVICES = ("auto", "npu", "gpu", "cpu")
PRECISIONS = ("fp32", "mixed", "bf16")

# the Keras global dtype policy of each precision on GPU and CPU
KERAS_POLICY = {"fp32": "float32", "mixed": "mixed_float16", "bf16": "mixed_bfloat16"}

# npu_device precision modes: "allow_mix_precision" lets the NPU run fp16 where it is safe;
# "must_keep_origin_dtype" keeps every op in the dtype the graph asks for (true fp32).
NPU_PRECISION_MODE = {
    "fp32": "must_keep_origin_dtype",
    "mixed": "allow_mix_precision",
    "bf16": "allow_mix_precision",
}
