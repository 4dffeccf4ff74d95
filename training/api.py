"""Python API for notebooks and scripts: typed values in, the driver's :class:`Run` out.

Example::

    from training.api import train
    run = train("din", epochs=2, output_dir="runs/din-try", overwrite=True)
    run.metrics["test"]["auc"], run.history, run.model

Keyword arguments are the CLI's (``data_dir``, ``epochs``, ``batch_size``, ``learning_rate``,
``device``, ``precision``, ``seed``, ``deterministic``, ``output_dir``, ``resume``,
``overwrite``, ``distributed``, ``config``, ``preset``, ``verbose``) or any option of the run's
sections by name (``hidden=16`` for ``model.hidden``, ``maxlen=50`` for ``data.maxlen``,
``patience=2`` for ``train.patience``); ``sets=["model.hidden=16"]`` is the explicit form. The
values reach the config typed (no command-line strings) through the same
:func:`training.infra.config.resolve` as the CLI. The float32 dtype policy is restored afterwards,
so runs in one kernel do not leak state into each other.
"""
from __future__ import absolute_import, division, print_function

import dataclasses

from core import quiet

quiet.start_tensorflow()  # before TensorFlow is imported below: no start-up notices in notebooks

from core.errors import UsageError  # noqa: E402  pylint: disable=wrong-import-position
from training.infra import config as cfg  # noqa: E402  pylint: disable=wrong-import-position
from training.driver import experiment  # noqa: E402  pylint: disable=wrong-import-position
from training.infra import runtime as rt  # noqa: E402  pylint: disable=wrong-import-position
from training import tasks  # noqa: E402  pylint: disable=wrong-import-position

# keyword -> the (section, key) it sets, as the CLI's dedicated flags do
_FLAGS = {"data_dir": ("data", "data_dir"), "epochs": ("train", "epochs"),
          "batch_size": ("train", "batch_size"), "learning_rate": ("train", "learning_rate"),
          "seed": ("train", "seed"), "device": ("runtime", "device"),
          "precision": ("runtime", "precision"), "deterministic": ("runtime", "deterministic")}
_RUN = ("output_dir", "resume", "overwrite", "distributed")


def train(model, sets=(), preset=None, config=None, verbose=False, **options):
    """Train and evaluate ``model`` (a task name).

    Args:
      model: the task name (``ngnn``, ``din``, ``package.module:Class``).
      sets: ``section.key=value`` strings, as ``--set``.
      preset: a named configuration of the task (``--preset``).
      config: a JSON or YAML config file (``--config``).
      verbose: debug logging and TensorFlow's notices.
      **options: the CLI's values by name, or any section option by its key.

    Returns:
      A :class:`training.driver.experiment.Run`.

    Raises:
      UsageError: an unknown option (named), or as :func:`training.driver.experiment.run`;
        DataError: bad data.
    """
    experiment.start(verbose)
    task = tasks.task_class(model)
    run_args = {name: options.pop(name) for name in _RUN if name in options}
    flags = {_FLAGS[name]: options.pop(name) for name in list(options) if name in _FLAGS}
    classes = cfg.section_classes(task)
    values = {}
    for name, value in sorted(options.items()):
        owners = [s for s, cls in classes.items()
                  if name in {f.name for f in dataclasses.fields(cls)}]
        if not owners:
            raise UsageError("train(): unknown option {!r}; see the train/model/data/runtime "
                             "sections of the config".format(name))
        values[(owners[0], name)] = value
    try:
        sections = cfg.resolve(task, preset=preset, config_file=config, flags=flags,
                               sets=list(sets), values=values)
        return experiment.run(model, sections, **run_args)
    finally:
        rt.reset()
