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
    """Train and evaluate ``model`` (a task name); return a :class:`training.fit.Run`.

    The values go to the run's config as they are (typed), not through command-line strings;
    they are validated like the CLI's (:class:`training.errors.UsageError` naming the option).
    """
    task = tasks.task_class(model)
    args = fit.build_parser().parse_args(["--model", model])
    for name in _FLAGS:
        value = options.pop(name, None)
        if value is not None:
            setattr(args, name, value)
    for name in _SWITCHES:
        setattr(args, name, bool(options.pop(name, False)))
    classes = cfg.section_classes(task)
    args.options = {}
    for name, value in sorted(options.items()):
        owners = [s for s, cls in classes.items()
                  if name in {f.name for f in dataclasses.fields(cls)}]
        if not owners:
            raise UsageError("train(): unknown option {!r}; see the train/model/data/runtime "
                             "sections of the config".format(name))
        args.options[(owners[0], name)] = value
    args.set = list(sets)
    try:
        return fit.run_args(args)
    finally:
        rt.reset()
