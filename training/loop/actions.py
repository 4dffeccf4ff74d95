"""What happens at each evaluation, as orbit's actions: small callables run in order on the
evaluation's record, so that the calendar (:class:`training.loop.controller.Controller`) only
says WHEN to evaluate, and each consequence is one named thing that can be swapped or added.

A record is ``{"step", "epoch", "train_loss", "validation": {metric: value}, "seconds"}``;
:class:`SelectBest` adds ``"best"``. The default order (:func:`default_actions`): select and
save the best checkpoint, append to the history (``history.json``, chief only), TensorBoard
scalars, the log line.
"""
from __future__ import absolute_import, division, print_function

import logging

import tensorflow as tf

from training.infra import rundir

log = logging.getLogger("npurec.loop")


class SelectBest(object):
    """Model selection on the monitored validation metric; saves ``checkpoints/best`` when it
    improves (early stopping is the same checkpointed state, :class:`EarlyStopping`)."""

    def __init__(self, stopping, checkpoints, monitor, task_name):
        self.stopping, self.checkpoints = stopping, checkpoints
        self.monitor, self.task_name = monitor, task_name

    def __call__(self, record):
        # the monitor is one of the task's declared metric_names: the driver checked it before
        # the run directory existed (training.driver.experiment._check_settings)
        improved = self.stopping.update(float(record["validation"][self.monitor]),
                                        record["step"])
        if improved:
            self.checkpoints.save_best(record["step"])
        record["best"] = bool(improved)


class WriteHistory(object):
    """Appends the record to the run's history; the chief rewrites ``history.json``."""

    def __init__(self, history, run_dir, chief):
        self.history, self.run_dir, self.chief = history, run_dir, chief

    def __call__(self, record):
        self.history.append(record)
        if self.chief:
            rundir.write_history(self.run_dir, self.history)


class TensorBoardScalars(object):
    """The validation metrics as TensorBoard scalars at the record's step."""

    def __init__(self, writer):
        self.writer = writer

    def __call__(self, record):
        with self.writer.as_default():
            for name, value in record["validation"].items():
                tf.summary.scalar(name, value, step=record["step"])


def log_evaluation(record):
    """One log line per evaluation."""
    log.info("step %d epoch %d: validation %s%s", record["step"], record["epoch"],
             ", ".join("{}={:.4f}".format(k, v) for k, v in sorted(record["validation"].items())),
             " (best)" if record.get("best") else "")


def default_actions(stopping, checkpoints, monitor, task_name, history, run_dir, chief,
                    writer):
    """The actions every run takes at an evaluation, in order.

    Returns:
      A list of callables ``action(record)``.
    """
    return [SelectBest(stopping, checkpoints, monitor, task_name),
            WriteHistory(history, run_dir, chief), TensorBoardScalars(writer), log_evaluation]
