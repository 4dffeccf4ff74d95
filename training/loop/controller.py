"""The calendar of one launch of the loop (orbit's Controller), and model selection's state.

:class:`Controller` runs the epochs of a :class:`training.loop.trainer.Trainer`: when to
evaluate and checkpoint, the progress bar, training scalars and throughput. What an
evaluation leads to (selection and the best checkpoint, history, TensorBoard, the log line)
is its actions' (:mod:`training.loop.actions`); the final report is
:func:`training.loop.report.final_report`'s.
:class:`EarlyStopping` keeps the selection state in variables, so it is checkpointed.
"""
from __future__ import absolute_import, division, print_function

import logging
import math
import time

import numpy as np
import tensorflow as tf

from datasets import progress
from core import compat
from core.errors import DivergedError
from training.infra import rundir
from training.loop.actions import default_actions
from training.infra.sharding import epoch_dataset

log = logging.getLogger("npurec.loop")

class EarlyStopping(object):
    """Model selection state, stored in variables so that it is checkpointed with the run."""

    def __init__(self, mode, patience):
        self.mode = mode
        self.patience = patience
        worst = -np.inf if mode == "max" else np.inf
        self.best = tf.Variable(worst, dtype=tf.float64, trainable=False, name="best_metric")
        self.best_step = tf.Variable(-1, dtype=tf.int64, trainable=False, name="best_step")
        self.bad_evals = tf.Variable(0, dtype=tf.int64, trainable=False, name="bad_evals")
        self.stopped = tf.Variable(False, trainable=False, name="stopped")

    def update(self, value, step):
        """Record an evaluation; returns True when it is the best so far.

        Args:
          value: the monitored validation metric.
          step: the global step of the evaluation.

        Returns:
          True when ``value`` is the best so far (NaN never is).
        """
        best = float(self.best.numpy())
        improved = value > best if self.mode == "max" else value < best
        if math.isnan(value):
            improved = False
        if improved:
            self.best.assign(value)
            self.best_step.assign(step)
            self.bad_evals.assign(0)
        else:
            self.bad_evals.assign_add(1)
            if self.patience and int(self.bad_evals.numpy()) >= self.patience:
                self.stopped.assign(True)
        return improved


class _Progress(object):
    """A step bar where someone watches (:mod:`datasets.progress`); the epoch's log line
    is written either way."""

    def __init__(self, total, initial, desc):
        self.bar = progress.bar(total=total, initial=initial, desc=desc, unit="step",
                                dynamic_ncols=True, leave=False)

    def update(self, loss, samples_per_sec):
        if self.bar is not None:
            self.bar.update(1)
            if loss is not None:
                self.bar.set_postfix(loss="{:.4f}".format(loss),
                                     samples_s="{:,.0f}".format(samples_per_sec))

    def close(self):
        if self.bar is not None:
            self.bar.close()


class Controller(object):
    """The calendar of one launch of the loop (orbit's Controller): epochs, evaluation
    cadence, model selection, checkpoints, TensorBoard logs, throughput.

    Args (keywords):
      task, data: the task and its prepared data.
      trainer: the :class:`Trainer` (compiled steps; its runtime is the one used here).
      train_config: the :class:`training.infra.config.TrainConfig`.
      run_dir: the run directory (only the chief writes it).
      checkpoints: the worker's checkpoint files (latest and best).
      stopping: the checkpointed model-selection / early-stopping state.
      history: evaluations so far (a resumed run's earlier ones), appended to.
      steps_per_epoch: global steps per epoch.
      seed: the data order's seed.
      actions: what to do with each evaluation's record (default
        :func:`training.loop.actions.default_actions`).
    """

    def __init__(self, *, task, data, trainer, train_config, run_dir, checkpoints, stopping,
                 history, steps_per_epoch, seed, actions=None):
        self.task, self.data, self.trainer = task, data, trainer
        self.runtime = runtime = trainer.runtime
        self.cfg, self.run_dir, self.files = train_config, run_dir, checkpoints
        self.stopping = stopping
        self.history = history
        self.steps_per_epoch = steps_per_epoch
        self.seed = seed
        self.monitor = train_config.monitor or task.monitor
        self.chief = runtime.is_chief
        # wall-clock seconds of training, carried across a resume (time to quality)
        done = history[-1].get("seconds", 0.0) if history else 0.0
        self.started = time.time() - float(done)
        if self.chief:
            self.writers = {
                name: tf.summary.create_file_writer(rundir.logs_dir(run_dir, name))
                for name in ("train", "validation")}
        else:
            self.writers = {name: tf.summary.create_noop_writer()
                            for name in ("train", "validation")}
        self.actions = actions if actions is not None else default_actions(
            stopping, checkpoints, self.monitor, task.name, history, run_dir, self.chief,
            self.writers["validation"])

    def evaluate(self, split):
        """The task's metrics of the current weights on ``split`` (``validation`` or ``test``).

        Args:
          split: the split.

        Returns:
          ``{metric: value}``.
        """
        scores = self.trainer.score_arrays(self.data.eval_arrays(split),
                                           self.cfg.resolved_eval_batch_size)
        return self.task.metrics(self.data, split, scores)

    def check_finite(self, step, losses):
        """Raise :class:`DivergedError` if any weight is NaN/inf. A non-finite LOSS alone is
        not divergence: under dynamic loss scaling an overflowing step is skipped and the
        weights stay finite. Costs one reduction over the weights (at log/save points).

        Args:
          step: the global step reached.
          losses: the step losses since the last check (to name the first non-finite one).

        Raises:
          DivergedError: a weight is NaN/inf.
        """
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(tf.cast(v, tf.float32)))
                                for v in self.trainer.model.trainable_variables])
        if bool(finite.numpy()):
            return
        values = np.array([float(l.numpy()) for l in losses])
        bad = np.flatnonzero(~np.isfinite(values))
        first = step - len(values) + 1 + int(bad[0]) if len(bad) else None
        raise DivergedError(
            "training diverged: the weights are NaN/inf at step {}{} (train.learning_rate = {:g}"
            "; lower it, or set train.clip_norm). The last checkpoint written before, {}, is "
            "kept and finite; no metrics were written.".format(
                step, " (the loss was first non-finite at step {})".format(first)
                if first is not None else "", self.cfg.learning_rate,
                self.files.latest() or "none"))

    def validate(self, step, epoch, train_loss, losses=()):
        """Evaluate on validation at ``step`` and run the evaluation's actions on its record
        (:mod:`training.loop.actions`: model selection and the best checkpoint, the history,
        TensorBoard, the log line); returns the metrics.

        Args:
          step: the global step.
          epoch: the 1-based epoch (for the record).
          train_loss: the training loss to record.
          losses: the step losses since the last check (to name a divergence).

        Returns:
          ``{metric: value}`` on validation.

        Raises:
          DivergedError: the weights are no longer finite.
          UsageError: ``train.monitor`` is not one of the metrics.
        """
        self.check_finite(step, losses)
        metrics = self.evaluate("validation")
        record = {"step": step, "epoch": epoch, "train_loss": train_loss,
                  "validation": metrics, "seconds": round(time.time() - self.started, 2)}
        for action in self.actions:
            action(record)
        return metrics

    def epoch_batches(self, epoch, first_step):
        """The batches of ``epoch`` from its ``first_step`` on (a resumed epoch skips the rest).

        Args:
          epoch: the 0-based epoch.
          first_step: steps of it already done.

        Returns:
          An iterable of distributed batches.
        """
        def make_batches(per_replica, shard):
            return epoch_dataset(self.data, per_replica, epoch, self.seed, shard)

        return self.runtime.distribute_batches(make_batches, self.cfg.batch_size,
                                               first_step=first_step,
                                               num_steps=self.steps_per_epoch)

    def run(self):
        """Run the calendar to the last epoch or early stop.

        Returns:
          The timing the final report needs (:func:`training.loop.report.final_report`):
          ``{"timed_steps", "timed_seconds", "compile_seconds"}``.
        """
        cfg, trainer, stopping = self.cfg, self.trainer, self.stopping
        steps_per_epoch, global_batch = self.steps_per_epoch, cfg.batch_size
        total_steps = steps_per_epoch * cfg.epochs
        step = int(trainer.step.numpy())
        timed_steps, timed_seconds = 0, 0.0
        compile_seconds = None
        while step < total_steps and not bool(stopping.stopped.numpy()):
            epoch = step // steps_per_epoch
            start_in_epoch = step % steps_per_epoch
            progress = _Progress(steps_per_epoch, start_in_epoch,
                                 "epoch {}/{}".format(epoch + 1, cfg.epochs))
            epoch_losses = []
            epoch_start = time.time()
            for batch in self.epoch_batches(epoch, start_in_epoch):
                t0 = time.time()
                loss = trainer.train_step(batch)
                step += 1
                loss_value = None
                if step % cfg.log_every_steps == 0 or step % steps_per_epoch == 0:
                    loss_value = float(loss.numpy())
                    with self.writers["train"].as_default():
                        tf.summary.scalar("loss", loss_value, step=step)
                        scale = compat.current_loss_scale(trainer.optimizer)
                        if scale is not None:
                            tf.summary.scalar("loss_scale", scale, step=step)
                epoch_losses.append(loss)
                if loss_value is not None and not math.isfinite(loss_value):
                    self.check_finite(step, epoch_losses)
                elapsed = time.time() - t0
                if compile_seconds is None:
                    float(loss.numpy())  # the first step includes tracing/compilation
                    compile_seconds = time.time() - t0
                else:
                    timed_steps += 1
                    timed_seconds += elapsed
                rate = global_batch * timed_steps / timed_seconds if timed_seconds else 0.0
                progress.update(loss_value, rate)
                if cfg.eval_every_steps and step % cfg.eval_every_steps == 0 \
                        and step % steps_per_epoch != 0:
                    self.validate(step, epoch + 1, float(loss.numpy()), epoch_losses)
                    self.files.save(step)
                    if bool(stopping.stopped.numpy()):
                        break
                elif cfg.checkpoint_every_steps and step % cfg.checkpoint_every_steps == 0:
                    self.check_finite(step, epoch_losses)
                    self.files.save(step)
            progress.close()
            if bool(stopping.stopped.numpy()):
                break
            epoch_seconds = time.time() - epoch_start
            mean_loss = float(np.mean([float(l.numpy()) for l in epoch_losses])) \
                if epoch_losses else float("nan")
            n_steps = len(epoch_losses)
            with self.writers["train"].as_default():
                tf.summary.scalar("steps_per_sec", n_steps / max(epoch_seconds, 1e-9), step=step)
                tf.summary.scalar("epoch_loss", mean_loss, step=step)
            log.info("epoch %d/%d: loss %.4f, %d steps in %.1fs (%.1f steps/s, %.0f samples/s)",
                     epoch + 1, cfg.epochs, mean_loss, n_steps, epoch_seconds,
                     n_steps / max(epoch_seconds, 1e-9),
                     n_steps * global_batch / max(epoch_seconds, 1e-9))
            self.validate(step, epoch + 1, mean_loss, epoch_losses)
            self.files.save(step)
        for writer in self.writers.values():
            writer.flush()
        return {"timed_steps": timed_steps, "timed_seconds": timed_seconds,
                "compile_seconds": compile_seconds}
