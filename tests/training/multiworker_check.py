"""One worker of a multi-worker test job: ``python -m tests.training.multiworker_check OUT --
FIT_ARGS...``.

Runs ``training.fit`` with FIT_ARGS (the cluster comes from this process's TF_CONFIG), then
saves the final model weights to OUT (npz) and prints the test metrics as JSON, so the test can
compare workers with each other and with a single process. Exit codes are the CLI's.
"""
import json
import sys

import numpy as np

from core.errors import NpurecError, said
from training import fit


def main(argv):
    out, args = argv[0], argv[argv.index("--") + 1:]
    try:
        result = fit.run(args)
    except NpurecError as err:
        return said(err)
    np.savez(out, *result.model.get_weights())
    print(json.dumps({"test": result.metrics["test"], "steps": result.metrics["steps"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
