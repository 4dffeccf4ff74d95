"""Python API for notebooks and scripts: the CLI's behaviour, as one function call.

Example::

    from training.api import train
    run = train("din", epochs=2, output_dir="runs/din-try", overwrite=True)
    run.metrics["test"]["auc"], run.history, run.model

Keyword arguments are the CLI's (``data_dir``, ``epochs``, ``batch_size``, ``learning_rate``,
``device``, ``precision``, ``seed``, ``output_dir``, ``resume``, ``overwrite``, ``config``,
``preset``) or
any option of the run's sections by name (``hidden=16`` for ``model.hidden``, ``maxlen=50`` for
``data.maxlen``, ``patience=2`` for ``train.patience``); ``sets=["model.hidden=16"]`` is the
explicit form. The float32 dtype policy is restored afterwards, so runs in one kernel do not
leak state into each other. Bad input raises :class:`training.errors.UsageError` or
:class:`datasets.DataError`.
"""
from __future__ import absolute_import, division, print_function

import dataclasses
import json

from training import quiet

quiet.start_tensorflow()  # before TensorFlow is imported below: no start-up notices in notebooks

from training import config as cfg  # noqa: E402  pylint: disable=wrong-import-position
from training import fit  # noqa: E402  pylint: disable=wrong-import-position
from training import runtime as rt  # noqa: E402  pylint: disable=wrong-import-position
from training import tasks  # noqa: E402  pylint: disable=wrong-import-position
from training.errors import UsageError  # noqa: E402  pylint: disable=wrong-import-position

_FLAGS = ("data_dir", "epochs", "batch_size", "learning_rate", "device", "precision", "seed",
          "output_dir", "config", "preset")
_SWITCHES = ("resume", "overwrite", "verbose")


def train(model, sets=(), **options):
    """Train and evaluate ``model`` (a task name); return a :class:`training.fit.Run`."""
    task = tasks.get_task(model)
    argv = ["--model", model]
    for name in _FLAGS:
        value = options.pop(name, None)
        if value is not None:
            argv += ["--" + name.replace("_", "-"), str(value)]
    for name in _SWITCHES:
        if options.pop(name, False):
            argv.append("--" + name)
    sections = {"train": cfg.TrainConfig, "model": task.model_config_cls,
                "data": task.data_config_cls, "runtime": cfg.RuntimeConfig}
    for name, value in sorted(options.items()):
        owners = [s for s, cls in sections.items()
                  if name in {f.name for f in dataclasses.fields(cls)}]
        if not owners:
            raise UsageError("train(): unknown option {!r}; see the train/model/data/runtime "
                             "sections of the config".format(name))
        argv += ["--set", "{}.{}={}".format(owners[0], name, json.dumps(value)
                                            if not isinstance(value, str) else value)]
    for item in sets:
        argv += ["--set", item]
    try:
        return fit.run(argv)
    finally:
        rt.reset()
