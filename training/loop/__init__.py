"""The shared custom training loop, assembled: :func:`train_and_evaluate`.

It builds the pieces (orbit's shape) and hands over to them: the compiled steps
(:class:`training.loop.trainer.Trainer`), the checkpoint files and restore checks
(:mod:`training.loop.checkpoints`) and the calendar (:class:`training.loop.controller.Controller`). Its
own job beyond that is a lost peer: a collective error in a multi-worker job becomes one
:class:`core.errors.WorkerLostError` naming the step and the checkpoint to resume from.

Exact resume: the global step is checkpointed with the model, the optimizer (slots and loss
scale) and the early-stopping state. Each epoch's batches are a deterministic function of
(seed, epoch), so a resumed run skips the batches already consumed in the current epoch and
continues with exactly the next one.

Several workers (:mod:`training.infra.cluster`): every worker runs the same calendar on the same
numbers (losses and evaluation scores are reduced/gathered across workers, so each one makes
the same decisions); only the chief writes the run directory. Other workers save their
checkpoints to a private temporary directory (tf.distribute wants every worker to take part in
a save) that is removed at the end, and restore from the chief's.
"""
from __future__ import absolute_import, division, print_function

import logging
import os

import tensorflow as tf

from core.errors import Interrupted, WorkerLostError
from training.loop import checkpoints as ckpt
from training.infra import rundir
from training.loop.controller import Controller, EarlyStopping
from training.loop.report import final_report
from training.infra.sharding import epoch_dataset
from training.loop.trainer import Trainer

log = logging.getLogger("npurec.loop")


# Errors a collective raises when a peer is gone (killed, crashed, unreachable).
_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                tf.errors.CancelledError, tf.errors.AbortedError)


def build_trainer(task, data, model, runtime, train_config, global_batch=None):
    """The optimizer and the :class:`Trainer` as every run builds them: the one builder that
    the loop, the command lines, the API, the notebooks and the benchmarks share, so a
    setting (the task's learning rate, clipping) cannot apply in one and not another.

    Args:
      task, data, model: as :func:`train_and_evaluate`.
      runtime: the :class:`training.infra.runtime.Runtime`.
      train_config: the :class:`training.infra.config.TrainConfig` (optimizer, learning rate, clip
        norm, batch size).
      global_batch: the global batch (default ``train_config.batch_size``).

    Returns:
      The Trainer (its ``optimizer`` attribute holds the optimizer).
    """
    with runtime.strategy.scope():
        optimizer = runtime.make_optimizer(train_config.optimizer, train_config.learning_rate,
                                           clipnorm=train_config.clip_norm or None)
        return Trainer(task, data, model, optimizer, runtime,
                       global_batch or train_config.batch_size)


def train_and_evaluate(task, data, model, runtime, *, train_config, run_dir, resuming=False,
                       seed=None):
    """Train ``model`` on ``task``'s data with the shared loop; return the final metrics.

    Args:
      task, data, model: the :class:`training.tasks.Task`, what its ``prepare`` returned and
        the model its ``build_model`` made (under ``runtime.strategy.scope()``).
      runtime: the :class:`training.infra.runtime.Runtime`.
      train_config: the :class:`training.infra.config.TrainConfig`.
      run_dir: the run directory (checkpoints, history, logs); only the chief writes it.
      resuming: continue from the latest checkpoint in ``run_dir``.
      seed: the data order's seed (default ``train_config.seed``).

    Returns:
      The final metrics: validation and test of the selected checkpoint, baselines, the
      selection (monitor, direction, best value, step, checkpoint) and throughput.

    The batch was checked against the training set and the replicas by the driver
    (:mod:`training.driver.experiment`), before the run directory existed.

    Raises:
      UsageError: an unusable checkpoint, a resume with another replica count.
        DivergedError: the weights became NaN/inf. WorkerLostError: a peer of a
        multi-worker job went away.

    Model selection: the checkpoint with the best validation ``monitor`` value is restored
    before the final validation and test evaluation; test data never influences selection.
    """
    seed = train_config.seed if seed is None else seed
    cfg = train_config
    strategy = runtime.strategy
    global_batch = cfg.batch_size
    # the driver checked the batch against the replicas and the training set before the run
    # directory existed (training.driver.experiment._check_settings, _check_data_size): one
    # check, one place
    steps_per_epoch = data.num_train_examples() // global_batch
    if cfg.steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.steps_per_epoch)

    trainer = build_trainer(task, data, model, runtime, cfg)
    optimizer = trainer.optimizer
    with strategy.scope():
        stopping = EarlyStopping(cfg.monitor_mode if cfg.monitor else task.monitor_mode,
                                  cfg.patience)
    per_replica = global_batch // runtime.num_replicas
    with strategy.scope():
        trainer.build(next(iter(epoch_dataset(data, per_replica, 0, seed))))
    checkpoint = tf.train.Checkpoint(
        model=model, optimizer=optimizer, step=trainer.step, replicas=trainer.replicas,
        best=stopping.best, best_step=stopping.best_step, bad_evals=stopping.bad_evals,
        stopped=stopping.stopped)
    ckpt.check_tracked(model)
    best_checkpoint = tf.train.Checkpoint(model=model)
    files = ckpt.CheckpointFiles(checkpoint, best_checkpoint, run_dir, runtime,
                                 cfg.keep_checkpoints)
    try:
        history = []
        latest = files.latest_for_resume() if resuming else None
        if latest:
            ckpt.restore(checkpoint, latest, "the latest")
            ckpt.check_replicas(trainer, runtime, latest)
            restored_step = int(trainer.step.numpy())
            history_path = os.path.join(run_dir, rundir.HISTORY_FILE)
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
        ckpt.check_same_start(runtime, int(trainer.step.numpy()), files.run_ckpt_dir)
        trainer.replicas.assign(runtime.num_replicas)
        controller = Controller(task=task, data=data, trainer=trainer, train_config=cfg,
                                run_dir=run_dir, checkpoints=files, stopping=stopping,
                                history=history, steps_per_epoch=steps_per_epoch, seed=seed)
        try:
            timing = controller.run()
            return final_report(task, data, controller.evaluate, trainer, stopping, files,
                                controller.history, controller.monitor, cfg, timing)
        except KeyboardInterrupt:
            raise Interrupted(
                "interrupted at step {} of {}. The checkpoints are kept; the last one is {}. "
                "Run the same command with --resume to continue from it.".format(
                    int(trainer.step.numpy()), steps_per_epoch * cfg.epochs,
                    files.latest() or "none yet (--resume starts again from step 0)")) from None
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
