"""User-facing errors of the training package.

Anything raised as :class:`UsageError` is a problem with what the user asked for (a flag, a
config key, a run directory, a checkpoint); the CLI prints its message and exits with code 2
without a traceback. Bugs stay ordinary exceptions with tracebacks.
"""


class UsageError(Exception):
    """Bad user input; the message says what was wrong and what to do."""


class WorkerLostError(Exception):
    """A multi-worker job lost one of its workers; the CLI exits with code 3.

    The job cannot go on without it (collectives need every worker). The message names the
    step reached and the last checkpoint; relaunching every worker with ``--resume`` continues
    from there.
    """


class DivergedError(UsageError):
    """Training diverged (the model's weights or outputs became NaN/inf), usually because the
    learning rate is too high for the data. The message names the step; the last checkpoint
    written before it is kept (it is finite), and no metrics.json is written. Exit code 2.
    """
