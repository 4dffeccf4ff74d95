"""A finished run, back in memory: its task, config, data and the selected weights.

Used by ``training.export`` and ``training.predict``. The run directory's ``config.json``
says which task, model and data; the data is loaded from where it was and checked against the
run's ``vocab.json`` (ids that mean something else are refused); the model is rebuilt and
restored from
``checkpoints/best`` (the checkpoint selected on validation) or, failing that, the latest one.
"""
from __future__ import absolute_import, division, print_function

import dataclasses
import logging
import os

import tensorflow as tf

from training.infra import config as cfg
from training import tasks
from training.infra import rundir
from core import memory
from core.errors import UsageError

log = logging.getLogger("npurec.serving")


class LoadedRun(object):
    """A run back in memory.

    Attributes:
      run_dir: the run directory.
      task: the task, built from the run's sections.
      sections: ``{"train", "model", "data": dataclass}`` as the run was configured (``data``
        pointed at another directory when one was asked for).
      data: the task's prepared data.
      model: the model with the selected weights.
      checkpoint: the checkpoint those weights came from.
    """

    def __init__(self, run_dir, task, sections, data, model, checkpoint):
        self.run_dir = run_dir
        self.task = task
        self.sections = sections
        self.data = data
        self.model = model
        self.checkpoint = checkpoint


def _edited_keys(run_dir, config):
    """``": model.hidden was 12 when trained, is 16 now"`` when config.json differs from the
    copy that the finished run wrote into metrics.json, else ''."""
    trained = (rundir.read_json(os.path.join(run_dir, rundir.METRICS_FILE), {}) or {}).get(
        "config")
    if not isinstance(trained, dict):
        return ""
    changed = ["{}.{} was {!r} when trained, is {!r} now".format(
        section, key, (trained.get(section) or {}).get(key), (config.get(section) or {}).get(key))
        for section in ("model", "data")
        for key in sorted(set(trained.get(section) or {}) | set(config.get(section) or {}))
        if (trained.get(section) or {}).get(key) != (config.get(section) or {}).get(key)]
    return ": config.json was edited, " + "; ".join(changed) if changed else ""


def load_run(run_dir, data_dir=None):
    """Rebuild a run's task, data and model with its selected weights, for predict/export.

    Args:
      run_dir: a finished (or checkpointed) run directory.
      data_dir: load this data directory instead of the run's own (evaluation on another
        data set); its ids must mean what they meant in training (``RUN/vocab.json``).

    Returns:
      A :class:`LoadedRun`.

    Raises:
      UsageError: no or edited config.json, no checkpoint, a checkpoint that does not match
        the model, or data whose ids no longer mean what they meant in training
        (``RUN/vocab.json``).
    """
    config = rundir.read_json(os.path.join(run_dir, "config.json"))
    if not config:
        raise UsageError("--run-dir {}: no config.json; is it a run directory?".format(run_dir))
    missing = [k for k in ("task", "train", "model", "data")
               if not isinstance(config, dict) or not isinstance(config.get(k), (dict, str))]
    if missing:
        raise UsageError("{}: not a run's config (no {}); was it edited? Train a new run, or "
                         "restore the file".format(os.path.join(run_dir, "config.json"),
                                                   ", ".join(missing)))
    task_cls = tasks.task_class(config["task"])
    if "base_run" in config["model"]:  # runs written before the eval section existed
        config = dict(config, model=dict(config["model"]),
                      eval=dict(config.get("eval") or {}, base_run=config["model"]["base_run"]))
        del config["model"]["base_run"]
    sections = cfg.build_sections(task_cls, config, ("train", "model", "data", "eval"))
    if data_dir is not None:
        sections["data"] = dataclasses.replace(sections["data"], data_dir=data_dir)
    task = task_cls(sections["model"], sections["data"], sections["eval"])
    data = task.prepare(sections["train"].seed, log)
    rundir.check_vocabulary(run_dir, data.vocabulary(), log)
    estimate = task.model_bytes(data)
    if estimate is not None:  # an edited config.json may ask for a model the machine lacks
        memory.check_fits(estimate[0], "{}'s weights".format(task.name), estimate[1])
    model = task.build_model(data)
    path = rundir.selected_checkpoint(run_dir)
    if path is None:
        raise UsageError("--run-dir {}: no checkpoint to load".format(run_dir))
    try:
        status = tf.train.Checkpoint(model=model).restore(path)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError, IndexError, KeyError,
            TypeError) as err:  # a truncated .data file ends in IndexError inside TF
        lines = str(getattr(err, "message", "") or err).strip().splitlines()
        raise UsageError("checkpoint {} cannot be read (damaged or truncated) or does not fit "
                         "the model built from {}{} ({}). Restore the file, or train a new "
                         "run.".format(
                             path, os.path.join(run_dir, rundir.CONFIG_FILE),
                             _edited_keys(run_dir, config),
                             (lines[0] if lines else type(err).__name__)[:200])) from None
    status.expect_partial()
    log.info("loaded %s from %s", config["task"], path)
    return LoadedRun(run_dir, task, sections, data, model, path)
