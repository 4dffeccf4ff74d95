"""What an evaluation leads to (training/loop/actions.py), each action on its own."""
import json
import os

from training.loop import actions
from training.loop.controller import EarlyStopping


class _Checkpoints(object):
    def __init__(self):
        self.saved = []

    def save_best(self, step):
        self.saved.append(step)


def _record(step, auc):
    return {"step": step, "epoch": 1, "train_loss": 0.5, "validation": {"auc": auc},
            "seconds": 1.0}


def test_select_best_saves_only_improvements_and_marks_the_record():
    stopping, files = EarlyStopping("max", patience=2), _Checkpoints()
    select = actions.SelectBest(stopping, files, "auc", "toy")
    records = [_record(s, v) for s, v in ((10, 0.6), (20, 0.7), (30, 0.65), (40, 0.64))]
    for record in records:
        select(record)
    assert [r["best"] for r in records] == [True, True, False, False]
    assert files.saved == [10, 20] and bool(stopping.stopped.numpy())


def test_the_history_is_written_by_the_chief_only(tmp_path):
    history = []
    actions.WriteHistory(history, str(tmp_path / "other"), chief=False)(_record(1, 0.5))
    assert history and not (tmp_path / "other").exists()
    (tmp_path / "run").mkdir()
    actions.WriteHistory(history, str(tmp_path / "run"), chief=True)(_record(2, 0.6))
    written = json.load(open(os.path.join(str(tmp_path / "run"), "history.json")))
    assert [h["step"] for h in written] == [1, 2]


def test_the_default_actions_run_in_order():
    made = actions.default_actions(EarlyStopping("max", 0), _Checkpoints(), "auc", "toy", [],
                                   "", False, None)
    assert [type(a).__name__ for a in made[:3]] == ["SelectBest", "WriteHistory",
                                                   "TensorBoardScalars"]
    assert made[3] is actions.log_evaluation
