"""npurec's errors: one base class, each kind with the exit code the command lines return.

Why one base at the floor: every package raises them (a bad flag, a bad data file, a lost
worker, a diverged run), and every command line turns them into one message and an exit code
the same way (:func:`said`) instead of a traceback. Anything else is a bug and keeps its
traceback.

==========================  ====  =======================================================
error                       exit  meaning
==========================  ====  =======================================================
:class:`UsageError`         2     what the user asked for (a flag, a config key, a run
                                  directory, a checkpoint) cannot be done; nothing written
:class:`DataError`          2     a data file is bad; the message names the file, line or
                                  item and what was expected
:class:`WorkerLostError`    3     a multi-worker job lost a worker; relaunch with --resume
:class:`DivergedError`      4     training diverged (NaN/inf weights); the last finite
                                  checkpoint is kept, no metrics are written
:class:`Interrupted`        130   Ctrl-C; the checkpoints are kept, --resume continues
==========================  ====  =======================================================
"""
from __future__ import absolute_import, division, print_function

import sys


class NpurecError(Exception):
    """Base of every error a user can cause or meet; ``exit_code`` is what the CLIs return."""

    exit_code = 1


class UsageError(NpurecError):
    """Bad user input; the message says what was wrong and what to do."""

    exit_code = 2


class DataError(NpurecError, ValueError):
    """Bad input data; the message names the file, line or item and what was expected.

    Also a ``ValueError``, so that code written against the readers' earlier contract (a
    ValueError for bad data) still catches it.
    """

    exit_code = 2


class WorkerLostError(NpurecError):
    """A multi-worker job lost one of its workers.

    The job cannot go on without it (collectives need every worker). The message names the
    step reached and the last checkpoint; relaunching every worker with ``--resume``
    continues from there.
    """

    exit_code = 3


class DivergedError(NpurecError):
    """Training diverged (the model's weights or outputs became NaN/inf), usually because the
    learning rate is too high for the data. The message names the step; the last checkpoint
    written before it is kept (it is finite), and no metrics.json is written.

    Its own exit code: a diverged run is neither bad input nor a bug, and a sweep script
    should be able to tell it apart (lower the learning rate and go on).
    """

    exit_code = 4


class Interrupted(NpurecError):
    """The user interrupted a run (Ctrl-C). The message says at which step and which
    checkpoint ``--resume`` continues from; exit code 130, the shell's code for SIGINT."""

    exit_code = 130


def said(err):
    """What every command line does with an :class:`NpurecError`: one ``npurec: error:`` line
    on stderr (no traceback), and the error's exit code to return. Anything else is a bug:
    callers catch only NpurecError, so a bug keeps its traceback.

    Args:
      err: the error.

    Returns:
      ``err.exit_code``.
    """
    print("npurec: error: {}".format(err), file=sys.stderr)
    return err.exit_code
