"""The final report of a run: the selected checkpoint scored on validation and test beside the
task's baselines on the same rows, what the model is below, the rows behind each metric, the
selection and the throughput. Built once the calendar (:mod:`training.loop.controller`) is done.
"""
from __future__ import absolute_import, division, print_function

import logging

import tensorflow as tf

from core.threads import one_native_thread
from training.infra import metrics as metrics_lib
from training.loop.checkpoints import restore

log = logging.getLogger("npurec.loop")

#: fewer rows (questions, users) than this behind a metric get a WARNING: with 100 rows an AUC
#: of 0.6 is about two standard errors from chance
MIN_ROWS = 100


def final_report(task, data, evaluate, trainer, stopping, checkpoints, history, monitor,
                 train_config, timing):
    """Restore the selected checkpoint, evaluate validation and test with the baselines on the
    same rows, and return the final metrics.

    Args:
      task, data: the task and its data.
      evaluate: ``evaluate(split)`` -> the task's metrics of the current weights.
      trainer: the :class:`training.loop.trainer.Trainer` (its model and step).
      stopping: the model-selection state.
      checkpoints: the worker's checkpoint files (the best one).
      history: the evaluations, for time to quality.
      monitor: the selection metric.
      train_config: the run's train section.
      timing: ``{"timed_steps", "timed_seconds", "compile_seconds"}`` from the calendar.

    Returns:
      ``{"validation", "test", "baselines", "below_rules", "rows", "best_step", "steps",
      "early_stopped", "monitor", "monitor_mode", "best_value", "selected_checkpoint",
      "train_samples_per_sec", "first_step_seconds", "time_to_quality"}``.
    """
    if bool(stopping.stopped.numpy()):
        log.info("early stopping: %s did not improve for %d evaluations", monitor,
                 train_config.patience)
    best = checkpoints.best()
    if best:
        restore(tf.train.Checkpoint(model=trainer.model), best, "the best")
    final = {"validation": evaluate("validation"), "test": evaluate("test")}
    with one_native_thread():  # core/threads.py: spinning pools on busy cores, measured
        final["baselines"] = {"validation": task.baselines(data, "validation"),
                              "test": task.baselines(data, "test")}
    # said on VALIDATION (what selection sees), never hidden: a model below a rule is a bug
    final["below_rules"] = metrics_lib.below_rules(final["validation"],
                                                   final["baselines"]["validation"])
    for entry in final["below_rules"]:
        log.warning("the selected checkpoint is BELOW the rule %s on validation %s: "
                    "%.4f vs %.4f", entry["rule"], entry["metric"], entry["model"],
                    entry["rule_value"])
    final["rows"] = {split: data.metric_rows(split) for split in ("validation", "test")}
    for split, counts in sorted(final["rows"].items()):
        for what, count in sorted(counts.items()):
            if count < MIN_ROWS:
                log.warning("%s metrics rest on %d %s: too few to tell a model from chance "
                            "or from a rule (%d or more wanted); more data, or do not read "
                            "much into them", split, count, what.replace("_", " "), MIN_ROWS)
    timed_steps, timed_seconds = timing["timed_steps"], timing["timed_seconds"]
    final["best_step"] = int(stopping.best_step.numpy())
    final["steps"] = int(trainer.step.numpy())
    final["early_stopped"] = bool(stopping.stopped.numpy())
    final["monitor"] = monitor
    final["monitor_mode"] = stopping.mode
    final["best_value"] = float(stopping.best.numpy()) if best else None
    final["selected_checkpoint"] = best
    final["train_samples_per_sec"] = (train_config.batch_size * timed_steps / timed_seconds
                                      if timed_seconds else None)
    final["first_step_seconds"] = timing["compile_seconds"]
    final["time_to_quality"] = metrics_lib.time_to_quality(history, monitor, stopping.mode)
    return final
