"""Importing TensorFlow without its start-up noise (unless the user asks for it).

On a machine without a GPU, ``import tensorflow`` and the first device query print ~10 lines
to the process's stderr from C++ (``cudart_stub ... Could not find cuda drivers``, an
``E0000 ... failed call to cuInit`` that looks like an error, the absl "All log messages
before absl::InitializeLog()" banner twice, CPU-instruction and oneDNN notices). They are
written by native code straight to file descriptor 2, and ``TF_CPP_MIN_LOG_LEVEL`` does not
reach all of them, so the only dependable way is to point fd 2 elsewhere while TensorFlow
starts, then pass on every line that is NOT one of these known notices (a real error still
shows). ``--verbose`` (``verbose=True``) or ``NPUREC_VERBOSE=1`` leaves everything as is.

This module imports nothing heavy, so command lines call it before anything imports
TensorFlow.
"""
from __future__ import absolute_import, division, print_function

import os
import re
import sys
import tempfile

NOISE = re.compile("|".join([
    r"All log messages before absl::InitializeLog\(\) is called",
    r"cudart_stub\.cc", r"failed call to cuInit", r"Could not find cuda drivers",
    r"To enable the following instructions", r"rebuild TensorFlow with the appropriate",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    r"oneDNN custom operations are on", r"TF_ENABLE_ONEDNN_OPTS",
    r"Unable to register cu(DNN|FFT|BLAS) factory", r"computation placer already registered",
    r"TF-TRT Warning: Could not find TensorRT", r"cuda_diagnostics\.cc",
    r"kernel driver does not appear to be running", r"retrieving CUDA diagnostic information",
    r"no NVIDIA GPU device is present", r"Attempting to register factory for plugin",
]))


def verbose_requested(verbose=False):
    """True when ``verbose`` or ``NPUREC_VERBOSE`` asks for TensorFlow's start-up notices.

    Args:
      verbose: the ``--verbose`` flag.

    Returns:
      A bool.
    """
    return bool(verbose) or os.environ.get("NPUREC_VERBOSE", "") not in ("", "0")


def allocator_defaults():
    """Host (CPU) tensors from TensorFlow's BFC allocator, unless the user set
    ``TF_CPU_ALLOCATOR_USE_BFC``. Read when TensorFlow first allocates, so set before that.

    Why: the default host allocator hands large buffers back to the system on free, so every
    step pays page faults again for its big activations. Measured in one back-to-back run
    (DIN, batch 4096, current code, with vs without): 1.46x at history 20, 2.1x at 50, 2.3x
    at 100 (BENCHMARKS.md). The price: freed memory stays with the process for reuse (it
    raises peak resident memory, not its growth).
    """
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")


def cpu_kernel_defaults():
    """TensorFlow's own CPU kernels instead of oneDNN's (``TF_ENABLE_ONEDNN_OPTS=0``), unless
    the user set that variable. Read when TensorFlow is imported, so set before that.

    Why: both models run many small matrix products (NGNN's 12 x 12 per-category maps and GRU
    gates, DIN's attention over thin matrices), where oneDNN's per-call setup costs more than
    it saves. Measured on this project's 2-core CPU in one alternated A/B run each
    (``benchmarks.ab``, BENCHMARKS.md): NGNN batch 16 1.13x, DIN's default 1.06x, with the same
    first training losses bit for bit. oneDNN stays on for the featurizer's convolutions
    (``datasets.featurize`` does not call this) and wherever the user sets the variable.
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def start_tensorflow(verbose=False, onednn=False):
    """Import TensorFlow and initialise its devices, dropping the known start-up notices.

    Idempotent: a second call (or TensorFlow already imported) does nothing. Also lowers
    TensorFlow's later C++ logging to warnings and errors (``TF_CPP_MIN_LOG_LEVEL=1``) unless
    the user set that variable, picks the host allocator (:func:`allocator_defaults`) and,
    unless ``onednn``, TensorFlow's own CPU kernels (:func:`cpu_kernel_defaults`).

    Args:
      verbose: keep TensorFlow's start-up notices.
      onednn: leave oneDNN as TensorFlow (or the user) has it (image models: convolutions).
    """
    allocator_defaults()
    if not onednn:
        cpu_kernel_defaults()
    if "tensorflow" in sys.modules or verbose_requested(verbose):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2 (embedded interpreters)
        import tensorflow  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        return
    captured = tempfile.TemporaryFile()
    os.dup2(captured.fileno(), 2)
    try:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        tf.config.list_physical_devices()  # device discovery prints the cuInit line
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        captured.seek(0)
        text = captured.read().decode("utf-8", errors="replace")
        captured.close()
        kept = [line for line in text.splitlines() if line.strip() and not NOISE.search(line)]
        if kept:
            sys.stderr.write("\n".join(kept) + "\n")
