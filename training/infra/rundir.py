"""The run directory: what a run leaves behind, written atomically, never clobbered by accident.

Layout::

    RUN/config.json    the resolved configuration (every default filled in)
    RUN/metrics.json   final validation/test metrics, throughput, versions, baselines
    RUN/history.json   one record per evaluation
    RUN/vocab.json     what the model's ids mean (DIN: the asin and category of each id)
    RUN/checkpoints/   tf.train.CheckpointManager files (+ best/ for model selection)
    RUN/logs/          TensorBoard event files
"""
from __future__ import absolute_import, division, print_function

import logging
import os
import tempfile
import time

from core import files
from core.errors import DataError, UsageError

log = logging.getLogger("npurec.rundir")

RUN_MARKERS = ("config.json", "metrics.json", "history.json", "checkpoints")
CONFIG_FILE, METRICS_FILE, HISTORY_FILE, VOCAB_FILE = (
    "config.json", "metrics.json", "history.json", "vocab.json")


CHECKPOINT_DIR, BEST_DIR, LOGS_DIR = "checkpoints", "best", "logs"


def checkpoint_dir(run_dir):
    """``RUN/checkpoints``: the latest checkpoints (``best/`` below it: the selected one)."""
    return os.path.join(run_dir, CHECKPOINT_DIR)


def logs_dir(run_dir, name):
    """``RUN/logs/NAME``: TensorBoard event files (``train``, ``validation``)."""
    return os.path.join(run_dir, LOGS_DIR, name)


def latest_checkpoint(folder):
    """``tf.train.latest_checkpoint(folder)``, or None when the folder's ``checkpoint`` state
    file cannot be read (bytes that are not text, an edited file): TensorFlow raised
    UnicodeDecodeError for the first. The callers say what an unusable state means.

    Args:
      folder: a checkpoint folder.

    Returns:
      A checkpoint prefix, or None.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    try:
        return tf.train.latest_checkpoint(folder)
    except (UnicodeDecodeError, ValueError, tf.errors.OpError) as err:
        log.warning("%s: unreadable (%s)", os.path.join(folder, "checkpoint"),
                    str(err).splitlines()[0][:200] if str(err) else type(err).__name__)
        return None


def selected_checkpoint(run_dir):
    """The checkpoint a run selected: ``checkpoints/best``; the latest one only for a run
    that never selected one (stopped before its first evaluation).

    Why not fall back silently: a finished run whose best checkpoint is gone would be scored
    (or served) with other weights than the ones its metrics.json reports.

    Args:
      run_dir: the run directory.

    Returns:
      A checkpoint prefix, or None when there is none.

    Raises:
      UsageError: ``metrics.json`` names a selected checkpoint but ``checkpoints/best`` holds
        none.
    """
    folder = checkpoint_dir(run_dir)
    best = latest_checkpoint(os.path.join(folder, BEST_DIR))
    if best:
        return best
    metrics = read_json(os.path.join(run_dir, "metrics.json"), {})
    if not isinstance(metrics, dict):
        raise UsageError("{}: not a run's metrics (a JSON object); restore it, or train a new "
                         "run".format(os.path.join(run_dir, "metrics.json")))
    if metrics.get("selected_checkpoint"):
        raise UsageError(
            "{}: the run selected {} (metrics.json) but {} holds no readable checkpoint "
            "(missing, or its 'checkpoint' state file cannot be read): restore it. "
            "The latest checkpoint holds other weights than the ones the run reports, and is "
            "not used in its place.".format(run_dir, metrics["selected_checkpoint"],
                                            os.path.join(folder, BEST_DIR)))
    return latest_checkpoint(folder)


def default_path(model):
    """Where a run goes without ``--output-dir``: ``runs/MODEL-YYYYmmdd-HHMMSS``.

    Args:
      model: the task name.

    Returns:
      A relative path.
    """
    return os.path.join("runs", "{}-{}".format(model, time.strftime("%Y%m%d-%H%M%S")))


def write_config(run_dir, resolved):
    """``RUN/config.json``: the resolved configuration, every default filled in.

    Args:
      run_dir: the run directory.
      resolved: the resolved config.
    """
    files.write_json(os.path.join(run_dir, CONFIG_FILE), resolved)


def write_metrics(run_dir, metrics):
    """``RUN/metrics.json``: the final record of a finished run.

    Args:
      run_dir: the run directory.
      metrics: the final record.
    """
    files.write_json(os.path.join(run_dir, METRICS_FILE), metrics)


def write_history(run_dir, history):
    """``RUN/history.json``: one record per evaluation (rewritten whole after each).

    Args:
      run_dir: the run directory.
      history: the evaluation records so far.
    """
    files.write_json(os.path.join(run_dir, HISTORY_FILE), history)


def write_vocabulary(run_dir, vocabulary):
    """``RUN/vocab.json``: what the model's ids mean (see :func:`check_vocabulary`).

    Args:
      run_dir: the run directory.
      vocabulary: the task's vocabulary (JSON).
    """
    files.write_json(os.path.join(run_dir, VOCAB_FILE), vocabulary)


def read_json(path, default=None):
    """A JSON file, or ``default`` when it does not exist.

    Args:
      path: the file.
      default: returned when it does not exist.

    Returns:
      The parsed JSON, or ``default``.

    Raises:
      UsageError: the file is not valid JSON (it names the file).
    """
    if not os.path.exists(path):
        return default
    try:
        return files.load_json(path, "run file")
    except DataError as err:
        raise UsageError("{}; fix or remove it".format(err))


def holds_run(path):
    """True when ``path`` is a folder holding any of a run's files.

    Args:
      path: a folder.

    Returns:
      A bool.
    """
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, name)) for name in RUN_MARKERS)


def check(path, resume=False, overwrite=False):
    """Decide, without writing anything, whether ``path`` starts a new run or resumes one.

    Returns ``resuming``. Read-only so that every worker of a cluster can check before any of
    them writes (they all reach the same verdict, and a refused run leaves no worker waiting).

    Args:
      path: the run directory.
      resume: continue a run there.
      overwrite: move a run there aside.

    Returns:
      True when resuming an existing run.

    Raises:
      UsageError: an empty path, a file, both flags, or a run that would be clobbered.
    """
    if not path or not str(path).strip():
        raise UsageError("--output-dir is empty: name a directory")
    if resume and overwrite:
        raise UsageError("--resume and --overwrite contradict each other; pick one")
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError("--output-dir {} exists and is not a directory".format(path))
    files.check_creatable(path, "the run directory", (CHECKPOINT_DIR, BEST_DIR))
    if not holds_run(path):
        return False
    if resume:
        return True
    if overwrite:
        return False
    raise UsageError(
        "--output-dir {} already holds a run (config/checkpoints). Pass --resume to "
        "continue it, --overwrite to move it aside and start again, or choose another "
        "--output-dir.".format(path))


def prepare(path, resume=False, overwrite=False):
    """Create or reuse the run directory ``path``; return ``(path, resuming)``.

    * a fresh or empty directory: used as is;
    * a directory holding a run: continued with ``resume``; with ``overwrite`` the old run is
      MOVED aside to ``PATH.replaced-<timestamp>`` (nothing is deleted); otherwise refused.

    Args:
      path: the run directory.
      resume: continue a run there.
      overwrite: move a run there aside.

    Returns:
      ``(path, resuming)``.

    Raises:
      UsageError: as :func:`check`, or the folder cannot be written.
    """
    resuming = check(path, resume=resume, overwrite=overwrite)
    try:
        if overwrite and holds_run(path):
            aside = "{}.replaced-{}".format(path.rstrip("/"), time.strftime("%Y%m%d-%H%M%S"))
            os.rename(path, aside)
            print("npurec: --overwrite: moved the earlier run in {} to {}".format(path, aside))
        made = []
        try:
            for sub in (CHECKPOINT_DIR, LOGS_DIR):
                made = files.make_folders(os.path.join(path, sub)) + made
            probe = tempfile.NamedTemporaryFile(prefix=".write-test-", dir=path)
            probe.close()
        except OSError:
            files.remove_made(made)  # a refused run directory leaves no empty folders
            raise
    except OSError as err:
        raise UsageError("cannot write the run directory {}: {}. Choose another "
                         "--output-dir.".format(err.filename or path, err.strerror or err))
    return path, resuming




def vocabulary_difference(saved, current):
    """None when equal, else the first difference of each differing key (an id, a size).

    Args:
      saved: the vocabulary in ``RUN/vocab.json``.
      current: the data's vocabulary now.

    Returns:
      None, or a message naming each difference.
    """
    if saved == current:
        return None
    found = []
    for key in sorted(set(saved) | set(current)):
        before, now = saved.get(key), current.get(key)
        if before == now:
            continue
        if isinstance(before, list) and isinstance(now, list) and len(before) != len(now):
            found.append("{} has {} entries now, {} when the run was trained".format(
                key, len(now), len(before)))
        elif isinstance(before, list) and isinstance(now, list):
            index = next(i for i, (a, b) in enumerate(zip(before, now)) if a != b)
            found.append("{}[{}] is {!r} now, {!r} when the run was trained".format(
                key, index, now[index], before[index]))
        else:
            found.append("{} is {!r} now, {!r} when the run was trained".format(
                key, now, before))
    return "; ".join(found)


def check_vocabulary(run_dir, current, log=None):
    """Refuse (UsageError) data whose id space differs from the one in ``RUN/vocab.json``.

    A run without the file (written by older versions) is accepted with a warning.

    Args:
      run_dir: the run directory.
      current: the data's vocabulary (None: the task has none).
      log: where the warning for an old run without the file goes.

    Raises:
      UsageError: the ids mean something else now.
    """
    if current is None:
        return
    path = os.path.join(run_dir, VOCAB_FILE)
    saved = read_json(path)
    if saved is None:
        if log:
            log.warning("%s has no %s: cannot check that the data is what the run was "
                        "trained on", run_dir, VOCAB_FILE)
        return
    difference = vocabulary_difference(saved, current)
    if difference:
        raise UsageError(
            "the data is not what the run in {} was trained on: {} (the run's ids are in {}). "
            "Point the run at its own data, or train a new run on this data.".format(
                run_dir, difference, path))


# train settings that change the data order, the negatives or the meaning of a step: a
# resumed run must keep them (epochs, patience, evaluation cadence may change)
RESUME_FIXED_TRAIN = ("seed", "batch_size", "optimizer", "steps_per_epoch")


def check_resumable(output_dir, resolved):
    """Refuse ``--resume`` when the run it continues was trained on other settings.

    Args:
      output_dir: the run directory being resumed (its ``config.json`` is read).
      resolved: the new run's resolved config (task, sections, cluster).

    Raises:
      UsageError: no config.json, a changed task/model/data section, a changed train
        setting of :data:`RESUME_FIXED_TRAIN`, or another worker count; nothing is changed.
    """
    previous = read_json(os.path.join(output_dir, CONFIG_FILE), {}) or {}
    if not previous:
        raise UsageError(
            "--resume: {} holds checkpoints but no config.json, so what it was trained with is "
            "unknown. Start a new --output-dir (or --overwrite to move it aside).".format(
                output_dir))
    changed = []
    for key in ("task", "model", "data"):
        if key in previous and previous[key] != resolved[key]:
            if isinstance(previous[key], dict):
                changed += ["{}.{} (was {!r}, now {!r})".format(
                    key, k, previous[key].get(k), resolved[key].get(k))
                    for k in sorted(set(previous[key]) | set(resolved[key]))
                    if previous[key].get(k) != resolved[key].get(k)]
            else:
                changed.append("{} (was {!r}, now {!r})".format(key, previous[key],
                                                                resolved[key]))
    before = previous.get("train") or {}
    changed += ["train.{} (was {!r}, now {!r})".format(k, before[k], resolved["train"][k])
                for k in RESUME_FIXED_TRAIN if k in before and before[k] != resolved["train"][k]]
    if changed:
        raise UsageError(
            "--resume: settings that change the data or the model differ from the run in {}: "
            "{}. Resume with the same settings, or start a new --output-dir. Nothing was "
            "changed.".format(output_dir, "; ".join(changed)))
    workers = (previous.get("cluster") or {}).get("workers", 1)
    if workers != resolved["cluster"]["workers"]:
        raise UsageError(
            "--resume: the checkpoints in {} were written by {} worker(s), this job has {}. "
            "Relaunch with {} worker(s), or start a new --output-dir. Nothing was "
            "changed.".format(output_dir, workers, resolved["cluster"]["workers"], workers))


def read_history(run_dir):
    """``RUN/history.json`` as a list (empty when there is none yet).

    Args:
      run_dir: the run directory.

    Returns:
      A list of records.
    """
    return read_json(os.path.join(run_dir, HISTORY_FILE), [])
