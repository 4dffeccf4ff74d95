"""The shared custom training loop: compiled steps (:class:`Trainer`) and the outer loop.

Following orbit's split, :class:`Trainer` owns only what runs inside ``tf.function`` (one
training step, one scoring step), while :class:`Controller` owns the calendar: epochs,
evaluation cadence, model selection on validation, early stopping, checkpoints, TensorBoard
scalars, progress bar and throughput. :func:`train_and_evaluate` builds both (and restores a
run for exact resume) and is what ``training.fit`` calls.

Exact resume: the global step is checkpointed with the model, the optimizer (slots and loss
scale) and the early-stopping state. Each epoch's batches are a deterministic function of
(seed, epoch), so a resumed run skips the batches already consumed in the current epoch and
continues with exactly the next one.

Several workers (:mod:`training.cluster`): every worker runs the same calendar on the same
numbers (losses and evaluation scores are reduced/gathered across workers, so each one makes
the same decisions); only the chief writes the run directory. Other workers save their
checkpoints to a private temporary directory (tf.distribute wants every worker to take part in
a save) that is removed at the end, and restore from the chief's. A lost worker stops the job
with :class:`training.errors.WorkerLostError`; relaunching all workers with ``--resume``
continues from the last checkpoint.
"""
from __future__ import absolute_import, division, print_function

import logging
import math
import os
import shutil
import tempfile
import time

import numpy as np
import tensorflow as tf

from datasets import progress
from datasets.pipeline import without_autotune_model
from training import compat, rundir
from training import metrics as metrics_lib
from training.errors import DivergedError, UsageError, WorkerLostError
from training.sharding import InputShard, epoch_dataset
from training.tasks import pad_to_multiple

log = logging.getLogger("npurec.loop")



class Trainer(object):
    """Compiled train and score steps for one task, model and optimizer.

    Args:
      task: the :class:`training.tasks.Task`.
      data: what the task's ``prepare`` returned (its loss and score read it).
      model: its Keras model (built under ``runtime.strategy.scope()``).
      optimizer: from ``runtime.make_optimizer`` (loss-scale wrapped when needed).
      runtime: the :class:`training.runtime.Runtime`.
      global_batch_size: batch size summed over all replicas.
    """

    def __init__(self, task, data, model, optimizer, runtime, global_batch_size):
        self.task = task
        self.data = data
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
            # checkpointed, so that a resume with another replica count is refused
            self.replicas = tf.Variable(runtime.num_replicas, dtype=tf.int64, trainable=False,
                                        name="replicas")
        self._train_step = tf.function(self._distributed_train_step)
        self._score_step = tf.function(self._score)

    # -- inside the graph ------------------------------------------------------------------
    def _replica_train_step(self, batch):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            per_example = tf.cast(
                self.task.loss(self.model, self.data, batch, training=True), tf.float32)
            # Divide by the GLOBAL batch, not the replica's: replica gradients are SUMMED by
            # the optimizer (or all_reduce), so the sum of per-replica means would be too big.
            loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=self.global_batch_size)
            if self.model.losses:
                # regularisers are whole on every replica (models/replicas.py: the rule) and
                # the replicas' gradients are summed (by the strategy and/or the NPU
                # all_reduce): count them once in total
                regularisation = tf.add_n([tf.cast(l, tf.float32) for l in self.model.losses])
                loss += regularisation / float(self.runtime.num_replicas)
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
        strategy = self.runtime.strategy
        scores = strategy.run(lambda b: self.task.score(self.model, self.data, b),
                              args=(batch,))
        # every replica's scores, in replica order, on every worker: all report the same metrics
        return strategy.gather(scores, axis=0)

    # -- called from Python ----------------------------------------------------------------
    def build(self, batch):
        """Create all model and optimizer variables (before restoring a checkpoint)."""
        self.task.loss(self.model, self.data, batch, training=False)
        compat.build_optimizer(self.optimizer, self.model.trainable_variables)
        self.runtime.broadcast_variables(self.model.variables)

    def train_step(self, batch):
        """One optimisation step on a (distributed) global batch; returns the mean loss."""
        return self._train_step(batch)

    def score_arrays(self, arrays, batch_size):
        """Score a dict of equally long numpy arrays with static-shape batches; numpy out.

        The replicas (of all workers) share each batch of ``batch_size`` (rounded down to a
        multiple of the replica count) and every worker gets all the scores back. The task's
        :meth:`~training.tasks.Task.eval_materialize` turns each replica's rows into the
        batch it scores, in the input pipeline.
        """
        materialize = self.task.eval_materialize(self.data)
        strategy = self.runtime.strategy
        replicas = strategy.num_replicas_in_sync
        batch_size = max(replicas, batch_size - batch_size % replicas)
        padded, n = pad_to_multiple(arrays, batch_size)

        def dataset_fn(context):
            shard = InputShard.from_context(context)
            batches = tf.data.Dataset.from_tensor_slices(padded).batch(
                batch_size // replicas, drop_remainder=True)
            batches = shard.select(batches)
            if materialize is not None:
                # one batch at a time: evaluation batches are large (NGNN: 512 outfits of
                # 2048-d items, 34 MB) and parallel calls would hold several at once
                batches = batches.map(materialize)
            return without_autotune_model(batches.prefetch(1))

        dataset = strategy.distribute_datasets_from_function(dataset_fn)
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


# Errors a collective raises when a peer is gone (killed, crashed, unreachable).
_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                tf.errors.CancelledError, tf.errors.AbortedError)


class _Checkpoints(object):
    """Checkpoint files of one worker: the chief's in the run directory, others' in a private
    temporary directory (every worker must take part in a tf.distribute save, only one may
    write the run). Restores read the chief's files (a shared file system)."""

    def __init__(self, checkpoint, best_checkpoint, run_dir, runtime, keep):
        self.run_ckpt_dir = os.path.join(run_dir, "checkpoints")
        self.private_dir = None
        save_dir = self.run_ckpt_dir
        if not runtime.is_chief:
            self.private_dir = tempfile.mkdtemp(
                prefix="npurec-worker{}-".format(runtime.cluster.worker_id))
            save_dir = self.private_dir
        self.manager = tf.train.CheckpointManager(checkpoint, save_dir, max_to_keep=keep)
        self.best_manager = tf.train.CheckpointManager(
            best_checkpoint, os.path.join(save_dir, "best"), max_to_keep=1)

    def save(self, step):
        return self.manager.save(checkpoint_number=step)

    def save_best(self, step):
        return self.best_manager.save(checkpoint_number=step)

    def latest(self):
        """The chief's latest checkpoint (what every worker resumes from)."""
        return tf.train.latest_checkpoint(self.run_ckpt_dir)

    def latest_for_resume(self):
        """:meth:`latest`, or, when the ``checkpoint`` index file is unreadable, the newest
        complete ``ckpt-N`` on disk (said at WARNING level); files but none usable: refused
        rather than silently starting again from step 0."""
        latest = self.latest()
        if latest or not os.path.isdir(self.run_ckpt_dir):
            return latest
        steps = []
        for name in os.listdir(self.run_ckpt_dir):
            stem, ext = os.path.splitext(name)
            if ext == ".index" and stem.startswith("ckpt-") and stem[5:].isdigit():
                steps.append(int(stem[5:]))
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
        """This worker's best checkpoint of this session, else the chief's (earlier sessions)."""
        return (self.best_manager.latest_checkpoint
                or tf.train.latest_checkpoint(os.path.join(self.run_ckpt_dir, "best")))

    def close(self):
        if self.private_dir:
            shutil.rmtree(self.private_dir, ignore_errors=True)


def _check_replicas(trainer, runtime, path):
    saved = int(trainer.replicas.numpy())
    if saved != runtime.num_replicas:
        raise UsageError(
            "--resume: checkpoint {} was written by a job with {} replica(s), this job has {} "
            "({} worker(s)). The global step and data position depend on the layout: relaunch "
            "with the same number of workers and devices, or start a new --output-dir. Nothing "
            "was changed.".format(path, saved, runtime.num_replicas,
                                  runtime.cluster.num_workers))


def _check_same_start(runtime, step, ckpt_dir):
    """Every worker must start from the same step, or the first collective step would hang."""
    steps = runtime.gather_from_workers(step)
    if len(set(steps)) > 1:
        raise UsageError(
            "the workers start from different steps ({}, by worker): they do not see the same "
            "checkpoints in {}. --output-dir must be one directory on a file system that every "
            "worker shares. Nothing was changed.".format(
                ", ".join(str(int(s)) for s in steps), ckpt_dir))


def train_and_evaluate(task, data, model, runtime, *, train_config, run_dir, resuming=False,
                       seed=None):
    """Train ``model`` on ``task``'s data with the shared loop; return the final metrics.

    Args:
      task, data, model: the :class:`training.tasks.Task`, what its ``prepare`` returned and
        the model its ``build_model`` made (under ``runtime.strategy.scope()``).
      runtime: the :class:`training.runtime.Runtime`.
      train_config: the :class:`training.config.TrainConfig`.
      run_dir: the run directory (checkpoints, history, logs); only the chief writes it.
      resuming: continue from the latest checkpoint in ``run_dir``.
      seed: the data order's seed (default ``train_config.seed``).

    Returns:
      The final metrics: validation and test of the selected checkpoint, baselines, the
      selection (monitor, direction, best value, step, checkpoint) and throughput.

    Raises:
      UsageError: a batch larger than the data, an unusable checkpoint, a resume with another
        replica count. DivergedError: the weights became NaN/inf. WorkerLostError: a peer of a
        multi-worker job went away.

    Model selection: the checkpoint with the best validation ``monitor`` value is restored
    before the final validation and test evaluation; test data never influences selection.
    """
    seed = train_config.seed if seed is None else seed
    cfg = train_config
    strategy = runtime.strategy
    global_batch = cfg.batch_size
    n_train = task.num_train_examples(data)
    steps_per_epoch = n_train // global_batch
    if steps_per_epoch < 1:
        raise UsageError("train.batch_size ({}) is larger than the training set ({} examples); "
                         "lower it".format(global_batch, n_train))
    if cfg.steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.steps_per_epoch)

    with strategy.scope():
        optimizer = runtime.make_optimizer(cfg.optimizer, cfg.learning_rate,
                                           clipnorm=cfg.clip_norm or None)
        trainer = Trainer(task, data, model, optimizer, runtime, global_batch)
        stopping = _EarlyStopping(cfg.monitor_mode if cfg.monitor else task.monitor_mode,
                                  cfg.patience)
    per_replica = global_batch // runtime.num_replicas
    with strategy.scope():
        trainer.build(next(iter(epoch_dataset(task, data, per_replica, 0, seed))))
    checkpoint = tf.train.Checkpoint(
        model=model, optimizer=optimizer, step=trainer.step, replicas=trainer.replicas,
        best=stopping.best, best_step=stopping.best_step, bad_evals=stopping.bad_evals,
        stopped=stopping.stopped)
    check_tracked(model)
    best_checkpoint = tf.train.Checkpoint(model=model)
    files = _Checkpoints(checkpoint, best_checkpoint, run_dir, runtime, cfg.keep_checkpoints)
    try:
        history = []
        latest = files.latest_for_resume() if resuming else None
        if latest:
            _restore(checkpoint, latest, "the latest")
            _check_replicas(trainer, runtime, latest)
            restored_step = int(trainer.step.numpy())
            history_path = os.path.join(run_dir, "history.json")
            earlier = rundir.read_json(history_path, None)
            if not isinstance(earlier, list):
                if restored_step > 0:
                    log.warning("--resume: %s is %s: the evaluations before step %d are not in "
                                "this run's history (the checkpoint and the model-selection "
                                "state are intact)", history_path,
                                "missing" if earlier is None else "not a list", restored_step)
                earlier = []
            history = [h for h in earlier if isinstance(h, dict)
                       and h.get("step", 0) <= restored_step]
            log.info("resumed from %s at step %d", latest, restored_step)
        elif resuming:
            log.info("--resume: no checkpoint in %s yet, starting from step 0",
                     files.run_ckpt_dir)
        _check_same_start(runtime, int(trainer.step.numpy()), files.run_ckpt_dir)
        trainer.replicas.assign(runtime.num_replicas)
        controller = Controller(task=task, data=data, trainer=trainer, train_config=cfg,
                                run_dir=run_dir, checkpoints=files, stopping=stopping,
                                history=history, steps_per_epoch=steps_per_epoch, seed=seed)
        try:
            return controller.run()
        except _PEER_ERRORS as err:
            if not runtime.cluster.distributed:
                raise
            raise WorkerLostError(
                "worker {} of {} lost contact with the job at step {} ({}). The last "
                "checkpoint is {}. Relaunch every worker with the same command plus --resume "
                "to continue from it.".format(
                    runtime.cluster.worker_id, runtime.cluster.num_workers,
                    int(trainer.step.numpy()), _peer_error_line(err),
                    files.latest() or "none (training restarts from step 0)"))
    finally:
        files.close()


def _peer_error_line(err):
    """The informative line of a TensorFlow error (which peer went away), at most 300 chars."""
    text = str(getattr(err, "message", "") or err)
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for line in lines:
        if "aborted by" in line or "unhealthy" in line or "failed to connect" in line:
            return line[:300]
    return (lines[0] if lines else type(err).__name__)[:300]


class Controller(object):
    """The calendar of one launch of the loop (orbit's Controller): epochs, evaluation
    cadence, model selection, checkpoints, TensorBoard logs, throughput.

    Args (keywords):
      task, data: the task and its prepared data.
      trainer: the :class:`Trainer` (compiled steps; its runtime is the one used here).
      train_config: the :class:`training.config.TrainConfig`.
      run_dir: the run directory (only the chief writes it).
      checkpoints: the worker's checkpoint files (latest and best).
      stopping: the checkpointed model-selection / early-stopping state.
      history: evaluations so far (a resumed run's earlier ones), appended to.
      steps_per_epoch: global steps per epoch.
      seed: the data order's seed.
    """

    def __init__(self, *, task, data, trainer, train_config, run_dir, checkpoints, stopping,
                 history, steps_per_epoch, seed):
        self.task, self.data, self.trainer = task, data, trainer
        self.runtime = runtime = trainer.runtime
        self.cfg, self.run_dir, self.files = train_config, run_dir, checkpoints
        self.stopping = stopping
        self.history = history
        self.steps_per_epoch = steps_per_epoch
        self.seed = seed
        self.monitor = train_config.monitor or task.monitor
        self.chief = runtime.is_chief
        if self.chief:
            self.writers = {
                name: tf.summary.create_file_writer(os.path.join(run_dir, "logs", name))
                for name in ("train", "validation")}
        else:
            self.writers = {name: tf.summary.create_noop_writer()
                            for name in ("train", "validation")}

    def evaluate(self, split):
        scores = self.trainer.score_arrays(self.task.eval_arrays(self.data, split),
                                           self.cfg.resolved_eval_batch_size)
        return self.task.metrics(self.data, split, scores)

    def check_finite(self, step, losses):
        """Raise :class:`DivergedError` if any weight is NaN/inf. A non-finite LOSS alone is
        not divergence: under dynamic loss scaling an overflowing step is skipped and the
        weights stay finite. Costs one reduction over the weights (at log/save points)."""
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
        self.check_finite(step, losses)
        metrics = self.evaluate("validation")
        if self.monitor not in metrics:
            raise UsageError("train.monitor {!r} is not a validation metric of {}; choose one "
                             "of {}".format(self.monitor, self.task.name,
                                            ", ".join(sorted(metrics))))
        improved = self.stopping.update(float(metrics[self.monitor]), step)
        if improved:
            self.files.save_best(step)
        record = {"step": step, "epoch": epoch, "train_loss": train_loss,
                  "validation": metrics, "best": bool(improved)}
        self.history.append(record)
        if self.chief:
            rundir.write_json_atomic(os.path.join(self.run_dir, "history.json"), self.history)
        with self.writers["validation"].as_default():
            for name, value in metrics.items():
                tf.summary.scalar(name, value, step=step)
        log.info("step %d epoch %d: validation %s%s", step, epoch,
                 ", ".join("{}={:.4f}".format(k, v) for k, v in sorted(metrics.items())),
                 " (best)" if improved else "")
        return metrics

    def epoch_batches(self, epoch, first_step):
        def make_batches(per_replica, shard):
            return epoch_dataset(self.task, self.data, per_replica, epoch, self.seed, shard)

        return self.runtime.distribute_batches(make_batches, self.cfg.batch_size,
                                               first_step=first_step,
                                               num_steps=self.steps_per_epoch)

    def run(self):
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
        return self.finish(timed_steps, timed_seconds, compile_seconds)

    def finish(self, timed_steps, timed_seconds, compile_seconds):
        stopping, global_batch = self.stopping, self.cfg.batch_size
        if bool(stopping.stopped.numpy()):
            log.info("early stopping: %s did not improve for %d evaluations", self.monitor,
                     self.cfg.patience)
        best = self.files.best()
        if best:
            _restore(tf.train.Checkpoint(model=self.trainer.model), best, "the best")
        final = {"validation": self.evaluate("validation"), "test": self.evaluate("test")}
        final["baselines"] = {"validation": self.task.baselines(self.data, "validation"),
                              "test": self.task.baselines(self.data, "test")}
        # said on VALIDATION (what selection sees), never hidden: a model below a rule is a bug
        final["below_rules"] = metrics_lib.below_rules(final["validation"],
                                                       final["baselines"]["validation"])
        for entry in final["below_rules"]:
            log.warning("the selected checkpoint is BELOW the rule %s on validation %s: "
                        "%.4f vs %.4f", entry["rule"], entry["metric"], entry["model"],
                        entry["rule_value"])
        final["best_step"] = int(stopping.best_step.numpy())
        final["steps"] = int(self.trainer.step.numpy())
        final["early_stopped"] = bool(stopping.stopped.numpy())
        final["monitor"] = self.monitor
        final["monitor_mode"] = stopping.mode
        final["best_value"] = float(stopping.best.numpy()) if best else None
        final["selected_checkpoint"] = best
        final["train_samples_per_sec"] = (
            global_batch * timed_steps / timed_seconds if timed_seconds else None)
        final["first_step_seconds"] = compile_seconds
        return final
