"""Checkpoint files of a run, and the checks that every worker restores the same state.

Why a module of its own: what is saved (tracked variables), where (the chief's run directory,
other workers' private folders), how a damaged index is recovered, and whether the restored
state fits this job (replica count, the same step on every worker) are one job, separate
from the compiled steps (:mod:`training.loop.trainer`) and the calendar (:mod:`training.loop.controller`).
"""
from __future__ import absolute_import, division, print_function

import logging
import os
import shutil
import tempfile
import time

import tensorflow as tf

from core.errors import UsageError
from core.numbers import parse_whole
from training.infra import rundir

log = logging.getLogger("npurec.checkpoints")


def check_tracked(model):
    """Fail loudly if checkpoints would miss some of the model's variables.

    tf.train.Checkpoint only sees what TensorFlow's tracking sees; e.g. Keras 3 layers kept in
    a Python list are invisible to it, and their weights would silently not be saved/restored.
    Costs one model-only checkpoint written to a temporary directory.

    Args:
      model: the built Keras model.

    Raises:
      RuntimeError: fewer variables would be saved than the model has (a bug in the model).
    """
    directory = tempfile.mkdtemp(prefix="npurec-track-")
    try:
        path = tf.train.Checkpoint(model=model).write(os.path.join(directory, "ckpt"))
        saved = [k for k in tf.train.load_checkpoint(path).get_variable_to_shape_map()
                 if k.startswith("model/")]
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if len(saved) < len(model.variables):
        raise RuntimeError(
            "checkpoints would hold {} of the model's {} variables: some sublayers are not "
            "tracked (keep Keras 3 sublayers as attributes, not in lists)".format(
                len(saved), len(model.variables)))


def restore(checkpoint, path, what):
    """Restore ``path`` or raise a UsageError that says the checkpoint is unusable.

    Args:
      checkpoint: the ``tf.train.Checkpoint`` to restore into.
      path: the checkpoint prefix.
      what: how the message names it ("the latest", "the best").

    Raises:
      UsageError: the checkpoint cannot be read or does not match the objects.
    """
    try:
        status = checkpoint.restore(path)
        status.assert_existing_objects_matched()
    except (tf.errors.OpError, ValueError, AssertionError, KeyError, IndexError,
            TypeError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(
            "cannot restore {} checkpoint {}: it is corrupt or was written by a different "
            "model/config ({}). Nothing was changed; start a new run with another "
            "--output-dir, or --overwrite to move this run aside.".format(what, path, first_line))


def _set_aside_unreadable_state(folder):
    """A ``checkpoint`` state file TensorFlow cannot read (bytes that are not text) would end
    the CheckpointManager in a UnicodeDecodeError: it is renamed aside, never deleted, and
    the checkpoints are found by their files (:meth:`CheckpointFiles.latest_for_resume`)."""
    state = os.path.join(folder, "checkpoint")
    if not os.path.isfile(state):
        return
    try:
        with open(state, "rb") as handle:
            handle.read().decode("utf-8")
    except UnicodeDecodeError:
        aside = "{}.unreadable-{}".format(state, time.strftime("%Y%m%d-%H%M%S"))
        os.replace(state, aside)
        log.warning("%s is not text: kept as %s; the checkpoints are found by their files",
                    state, aside)


class CheckpointFiles(object):
    """Checkpoint files of one worker: the chief's in the run directory, others' in a private
    temporary directory (every worker must take part in a tf.distribute save, only one may
    write the run). Restores read the chief's files (a shared file system)."""

    def __init__(self, checkpoint, best_checkpoint, run_dir, runtime, keep):
        self.run_ckpt_dir = rundir.checkpoint_dir(run_dir)
        self.private_dir = None
        save_dir = self.run_ckpt_dir
        if not runtime.is_chief:
            self.private_dir = tempfile.mkdtemp(
                prefix="npurec-worker{}-".format(runtime.cluster.worker_id))
            save_dir = self.private_dir
        for folder in (save_dir, os.path.join(save_dir, rundir.BEST_DIR)):
            _set_aside_unreadable_state(folder)
        self.manager = tf.train.CheckpointManager(checkpoint, save_dir, max_to_keep=keep)
        self.best_manager = tf.train.CheckpointManager(
            best_checkpoint, os.path.join(save_dir, rundir.BEST_DIR), max_to_keep=1)

    def save(self, step):
        """Save the full training state at ``step``; returns the checkpoint path.

        Args:
          step: the global step (the checkpoint's number).

        Returns:
          The checkpoint path.

        Raises:
          UsageError: the checkpoint cannot be written (a full disk, a folder gone): one line
            naming it and the checkpoint that is kept.
        """
        return self._write(self.manager, step)

    def _write(self, manager, step):
        try:
            return manager.save(checkpoint_number=step)
        except (tf.errors.ResourceExhaustedError, tf.errors.PermissionDeniedError,
                tf.errors.NotFoundError, tf.errors.FailedPreconditionError,
                tf.errors.UnknownError, OSError) as err:
            text = str(getattr(err, "message", "") or err).strip().splitlines()
            raise UsageError(
                "cannot write the checkpoint of step {} in {} ({}). Nothing earlier was lost: "
                "the last complete checkpoint is {}. Free space (or fix the folder) and run "
                "the same command with --resume.".format(
                    step, manager.directory, (text[0] if text else type(err).__name__)[:200],
                    self.latest() or "none")) from None

    def save_best(self, step):
        """Save the model's weights as the best so far (``checkpoints/best``); returns the path.

        Args:
          step: the global step (the checkpoint's number).

        Returns:
          The checkpoint path.
        """
        return self._write(self.best_manager, step)

    def latest(self):
        """The chief's latest checkpoint (what every worker resumes from).

        Returns:
          A checkpoint prefix, or None.
        """
        return rundir.latest_checkpoint(self.run_ckpt_dir)

    def latest_for_resume(self):
        """:meth:`latest`, or, when the ``checkpoint`` index file is unreadable, the newest
        complete ``ckpt-N`` on disk (said at WARNING level); files but none usable: refused
        rather than silently starting again from step 0.

        Returns:
          A checkpoint prefix, or None when the run has no checkpoint yet.

        Raises:
          UsageError: an index file that names nothing readable, and no ckpt-N files.
        """
        latest = self.latest()
        if latest or not os.path.isdir(self.run_ckpt_dir):
            return latest
        steps = []
        for name in os.listdir(self.run_ckpt_dir):
            stem, ext = os.path.splitext(name)
            if ext == ".index" and stem.startswith("ckpt-") and \
                    parse_whole(stem[5:]) is not None:
                steps.append(parse_whole(stem[5:]))
        index = os.path.join(self.run_ckpt_dir, "checkpoint")
        if steps:
            found = os.path.join(self.run_ckpt_dir, "ckpt-{}".format(max(steps)))
            log.warning("--resume: %s does not name a checkpoint (unreadable or edited); "
                        "resuming from the newest one on disk, %s", index, found)
            return found
        if os.path.exists(index):
            raise UsageError(
                "--resume: {} exists but names no readable checkpoint and no ckpt-N files are "
                "there: nothing to resume from. Start a new --output-dir (or --overwrite to move "
                "this run aside).".format(index))
        return None

    def best(self):
        """This worker's best checkpoint of this session, else the chief's (earlier sessions).

        Returns:
          A checkpoint prefix, or None (no evaluation improved yet).
        """
        return (self.best_manager.latest_checkpoint
                or rundir.latest_checkpoint(os.path.join(self.run_ckpt_dir, rundir.BEST_DIR)))

    def close(self):
        """Remove a non-chief worker's private checkpoint folder."""
        if self.private_dir:
            shutil.rmtree(self.private_dir, ignore_errors=True)


def check_replicas(trainer, runtime, path):
    """Refuse a checkpoint written with another replica count (the step means something else).

    Args:
      trainer: the :class:`training.loop.trainer.Trainer` (its restored ``replicas`` variable).
      runtime: this job's runtime.
      path: the checkpoint (for the message).

    Raises:
      UsageError: naming both counts and what to do.
    """
    saved = int(trainer.replicas.numpy())
    if saved != runtime.num_replicas:
        raise UsageError(
            "--resume: checkpoint {} was written by a job with {} replica(s), this job has {} "
            "({} worker(s)). The global step and data position depend on the layout: relaunch "
            "with the same number of workers and devices, or start a new --output-dir. Nothing "
            "was changed.".format(path, saved, runtime.num_replicas,
                                  runtime.cluster.num_workers))


def check_same_start(runtime, step, ckpt_dir):
    """Every worker must start from the same step, or the first collective step would hang.

    Args:
      runtime: this job's runtime (gathers the step from every worker).
      step: this worker's restored step.
      ckpt_dir: the checkpoint folder (for the message).

    Raises:
      UsageError: the workers restored different steps.
    """
    steps = runtime.gather_from_workers(step)
    if len(set(steps)) > 1:
        raise UsageError(
            "the workers start from different steps ({}, by worker): they do not see the same "
            "checkpoints in {}. --output-dir must be one directory on a file system that every "
            "worker shares. Nothing was changed.".format(
                ", ".join(str(int(s)) for s in steps), ckpt_dir))
