"""The shared custom training loop: compiled steps (:class:`Trainer`) and the outer loop.

Following orbit's split, :class:`Trainer` owns only what runs inside ``tf.function`` (one
training step, one scoring step), while :func:`train_and_evaluate` owns the calendar: epochs,
evaluation cadence, model selection on validation, early stopping, checkpoints and exact resume,
TensorBoard scalars, progress bar and throughput.

Exact resume: the global step is checkpointed with the model, the optimizer (slots and loss
scale) and the early-stopping state. Each epoch's batches are a deterministic function of
(seed, epoch), so a resumed run skips the batches already consumed in the current epoch and
continues with exactly the next one.
"""
from __future__ import absolute_import, division, print_function

import logging
import math
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from training import compat, rundir
from training.errors import UsageError
from training.tasks import pad_to_multiple

log = logging.getLogger("npurec.loop")

try:
    from tqdm.auto import tqdm
except ImportError:  # tqdm is a dependency; fall back to plain logging if it is missing
    tqdm = None


class Trainer(object):
    """Compiled train and score steps for one task, model and optimizer.

    Args:
      task: the :class:`training.tasks.Task`.
      model: its Keras model (built under ``runtime.strategy.scope()``).
      optimizer: from ``runtime.make_optimizer`` (loss-scale wrapped when needed).
      runtime: the :class:`training.runtime.Runtime`.
      global_batch_size: batch size summed over all replicas.
    """

    def __init__(self, task, model, optimizer, runtime, global_batch_size):
        self.task = task
        self.model = model
        self.optimizer = optimizer
        self.runtime = runtime
        self.global_batch_size = int(global_batch_size)
        if self.global_batch_size % runtime.num_replicas:
            raise UsageError(
                "train.batch_size ({}) must be divisible by the number of replicas ({}) so "
                "every replica gets the same static shape".format(
                    self.global_batch_size, runtime.num_replicas))
        with runtime.strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self._train_step = tf.function(self._distributed_train_step)
        self._score_step = tf.function(self._score)

    # -- inside the graph ------------------------------------------------------------------
    def _replica_train_step(self, batch):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            per_example = tf.cast(self.task.loss(self.model, batch, training=True), tf.float32)
            # Divide by the GLOBAL batch, not the replica's: replica gradients are SUMMED by
            # the optimizer (or all_reduce), so the sum of per-replica means would be too big.
            loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=self.global_batch_size)
            if self.model.losses:
                regularisation = tf.add_n([tf.cast(l, tf.float32) for l in self.model.losses])
                loss += tf.nn.scale_regularization_loss(regularisation)
            scaled = compat.scale_loss(self.optimizer, loss)
        grads = tape.gradient(scaled, variables)
        grads = self.runtime.reduce_gradients(grads)
        compat.apply_gradients(self.optimizer, grads, variables)
        return loss

    def _distributed_train_step(self, batch):
        per_replica = self.runtime.strategy.run(self._replica_train_step, args=(batch,))
        loss = self.runtime.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        self.step.assign_add(1)
        return loss

    def _score(self, batch):
        return self.task.score(self.model, batch)

    # -- called from Python ----------------------------------------------------------------
    def build(self, batch):
        """Create all model and optimizer variables (before restoring a checkpoint)."""
        self.task.loss(self.model, batch, training=False)
        compat.build_optimizer(self.optimizer, self.model.trainable_variables)
        self.runtime.broadcast_variables(self.model.variables)

    def distribute(self, dataset):
        return self.runtime.strategy.experimental_distribute_dataset(dataset)

    def train_step(self, batch):
        """One optimisation step on a (distributed) global batch; returns the mean loss."""
        return self._train_step(batch)

    def score_arrays(self, arrays, batch_size):
        """Score a dict of equally long numpy arrays with static-shape batches; numpy out."""
        padded, n = pad_to_multiple(arrays, batch_size)
        dataset = tf.data.Dataset.from_tensor_slices(padded).batch(
            batch_size, drop_remainder=True).prefetch(2)
        outputs = [self._score_step(batch).numpy() for batch in dataset]
        return np.concatenate(outputs, axis=0)[:n]


class _EarlyStopping(object):
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
        """Record an evaluation; returns True when it is the best so far."""
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


def check_tracked(model):
    """Fail loudly if checkpoints would miss some of the model's variables.

    tf.train.Checkpoint only sees what TensorFlow's tracking sees; e.g. Keras 3 layers kept in
    a Python list are invisible to it, and their weights would silently not be saved/restored.
    Costs one model-only checkpoint written to a temporary directory.
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


def _restore(checkpoint, path, what):
    """Restore ``path`` or raise a UsageError that says the checkpoint is unusable."""
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


class _Progress(object):
    """tqdm bar in a terminal or a notebook (tqdm.auto); otherwise a log line per epoch."""

    def __init__(self, total, initial, desc):
        self.bar = None
        interactive = sys.stderr.isatty() or "ipykernel" in sys.modules
        if tqdm is not None and interactive:
            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="step",
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


def _prefixed(prefix, metrics):
    return {"{}/{}".format(prefix, k): v for k, v in metrics.items()}


def train_and_evaluate(task, data, model, runtime, train_config, run_dir, resuming, seed):
    """Train ``model`` on ``task``'s data with the shared loop; return the final metrics.

    Model selection: the checkpoint with the best validation ``monitor`` value is restored
    before the final validation and test evaluation; test data never influences selection.
    """
    cfg = train_config
    strategy = runtime.strategy
    monitor = cfg.monitor or task.monitor
    mode = cfg.monitor_mode if cfg.monitor else task.monitor_mode
    global_batch = cfg.batch_size
    n_train = task.num_train_examples(data)
    steps_per_epoch = n_train // global_batch
    if steps_per_epoch < 1:
        raise UsageError("train.batch_size ({}) is larger than the training set ({} examples); "
                         "lower it".format(global_batch, n_train))
    if cfg.steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.steps_per_epoch)
    total_steps = steps_per_epoch * cfg.epochs

    with strategy.scope():
        optimizer = runtime.make_optimizer(cfg.optimizer, cfg.learning_rate,
                                           clipnorm=cfg.clip_norm or None)
        trainer = Trainer(task, model, optimizer, runtime, global_batch)
        stopping = _EarlyStopping(mode, cfg.patience)
    def epoch_dataset(epoch):
        return runtime.shard(lambda batch: task.train_dataset(data, batch, epoch, seed),
                             global_batch)

    first_batch = next(iter(epoch_dataset(0)))
    with strategy.scope():
        trainer.build(first_batch)

    ckpt_dir = os.path.join(run_dir, "checkpoints")
    checkpoint = tf.train.Checkpoint(
        model=model, optimizer=optimizer, step=trainer.step, best=stopping.best,
        best_step=stopping.best_step, bad_evals=stopping.bad_evals, stopped=stopping.stopped)
    manager = tf.train.CheckpointManager(checkpoint, ckpt_dir, max_to_keep=cfg.keep_checkpoints)
    check_tracked(model)
    best_checkpoint = tf.train.Checkpoint(model=model)
    best_manager = tf.train.CheckpointManager(
        best_checkpoint, os.path.join(ckpt_dir, "best"), max_to_keep=1)

    history_path = os.path.join(run_dir, "history.json")
    history = []
    if resuming and manager.latest_checkpoint:
        _restore(checkpoint, manager.latest_checkpoint, "the latest")
        restored_step = int(trainer.step.numpy())
        history = [h for h in (rundir.read_json(history_path, []) or [])
                   if h.get("step", 0) <= restored_step]
        log.info("resumed from %s at step %d", manager.latest_checkpoint, restored_step)
    elif resuming:
        log.info("--resume: no checkpoint in %s yet, starting from step 0", ckpt_dir)

    writers = {
        "train": tf.summary.create_file_writer(os.path.join(run_dir, "logs", "train")),
        "validation": tf.summary.create_file_writer(os.path.join(run_dir, "logs", "validation")),
    }
    eval_batch = cfg.resolved_eval_batch_size

    def evaluate(split):
        scores = trainer.score_arrays(task.eval_arrays(data, split), eval_batch)
        return task.metrics(data, split, scores)

    def validate(step, epoch, train_loss):
        metrics = evaluate("validation")
        if monitor not in metrics:
            raise UsageError("train.monitor {!r} is not a validation metric of {}; choose one "
                             "of {}".format(monitor, task.name, ", ".join(sorted(metrics))))
        improved = stopping.update(float(metrics[monitor]), step)
        if improved:
            best_manager.save(checkpoint_number=step)
        record = {"step": step, "epoch": epoch, "train_loss": train_loss,
                  "validation": metrics, "best": bool(improved)}
        history.append(record)
        rundir.write_json_atomic(history_path, history)
        with writers["validation"].as_default():
            for name, value in metrics.items():
                tf.summary.scalar(name, value, step=step)
        log.info("step %d epoch %d: validation %s%s", step, epoch,
                 ", ".join("{}={:.4f}".format(k, v) for k, v in sorted(metrics.items())),
                 " (best)" if improved else "")
        return metrics

    step = int(trainer.step.numpy())
    timed_steps, timed_seconds = 0, 0.0
    compile_seconds = None
    while step < total_steps and not bool(stopping.stopped.numpy()):
        epoch = step // steps_per_epoch
        start_in_epoch = step % steps_per_epoch
        dataset = epoch_dataset(epoch).take(steps_per_epoch).skip(start_in_epoch)
        progress = _Progress(steps_per_epoch, start_in_epoch,
                             "epoch {}/{}".format(epoch + 1, cfg.epochs))
        epoch_losses = []
        epoch_start = time.time()
        for batch in trainer.distribute(dataset):
            t0 = time.time()
            loss = trainer.train_step(batch)
            step += 1
            loss_value = None
            if step % cfg.log_every_steps == 0 or step % steps_per_epoch == 0:
                loss_value = float(loss.numpy())
                with writers["train"].as_default():
                    tf.summary.scalar("loss", loss_value, step=step)
                    scale = compat.current_loss_scale(optimizer)
                    if scale is not None:
                        tf.summary.scalar("loss_scale", scale, step=step)
            epoch_losses.append(loss)
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
                validate(step, epoch + 1, float(loss.numpy()))
                manager.save(checkpoint_number=step)
                if bool(stopping.stopped.numpy()):
                    break
            elif cfg.checkpoint_every_steps and step % cfg.checkpoint_every_steps == 0:
                manager.save(checkpoint_number=step)
        progress.close()
        if bool(stopping.stopped.numpy()):
            break
        epoch_seconds = time.time() - epoch_start
        mean_loss = float(np.mean([float(l.numpy()) for l in epoch_losses])) \
            if epoch_losses else float("nan")
        n_steps = len(epoch_losses)
        with writers["train"].as_default():
            tf.summary.scalar("steps_per_sec", n_steps / max(epoch_seconds, 1e-9), step=step)
            tf.summary.scalar("epoch_loss", mean_loss, step=step)
        log.info("epoch %d/%d: loss %.4f, %d steps in %.1fs (%.1f steps/s, %.0f samples/s)",
                 epoch + 1, cfg.epochs, mean_loss, n_steps, epoch_seconds,
                 n_steps / max(epoch_seconds, 1e-9),
                 n_steps * global_batch / max(epoch_seconds, 1e-9))
        validate(step, epoch + 1, mean_loss)
        manager.save(checkpoint_number=step)
    for writer in writers.values():
        writer.flush()

    if bool(stopping.stopped.numpy()):
        log.info("early stopping: %s did not improve for %d evaluations", monitor, cfg.patience)
    if best_manager.latest_checkpoint:
        _restore(best_checkpoint, best_manager.latest_checkpoint, "the best")
    final = {"validation": evaluate("validation"), "test": evaluate("test")}
    final["baselines"] = {"validation": task.baselines(data, "validation"),
                          "test": task.baselines(data, "test")}
    final["best_step"] = int(stopping.best_step.numpy())
    final["steps"] = int(trainer.step.numpy())
    final["early_stopped"] = bool(stopping.stopped.numpy())
    final["monitor"] = monitor
    final["train_samples_per_sec"] = (
        global_batch * timed_steps / timed_seconds if timed_seconds else None)
    final["first_step_seconds"] = compile_seconds
    return final
