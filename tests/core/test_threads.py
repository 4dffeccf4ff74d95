"""The report's baselines run with one native thread (core/threads.py says why, with numbers)."""
import importlib

import threadpoolctl  # scikit-learn's dependency, so installed with it

from core.threads import one_native_thread


def _openmp_and_blas_threads():
    importlib.import_module("sklearn.ensemble")  # loads scikit-learn's OpenMP runtime

    return {(pool["user_api"], pool["filepath"]): pool["num_threads"]
            for pool in threadpoolctl.threadpool_info()}


def test_the_context_holds_every_pool_to_one_thread_and_gives_them_back():
    before = _openmp_and_blas_threads()
    assert any(api == "openmp" for api, _ in before)  # scikit-learn's libgomp is loaded
    with one_native_thread():
        inside = _openmp_and_blas_threads()
    assert set(inside.values()) == {1}
    assert _openmp_and_blas_threads() == before


def test_a_runs_report_and_evaluate_score_baselines_on_one_native_thread(tmp_path,
                                                                          monkeypatch):
    """Both places that score baselines (the run's final report, ``training.evaluate``)."""
    from tests.toy_task import ToyTask  # pylint: disable=import-outside-toplevel
    from training import evaluate  # pylint: disable=import-outside-toplevel
    from training.api import train  # pylint: disable=import-outside-toplevel

    seen = []
    plain = ToyTask.baselines

    def recording(self, data, split):
        seen.append(set(_openmp_and_blas_threads().values()))
        return plain(self, data, split)

    monkeypatch.setattr(ToyTask, "baselines", recording)
    run = train("tests.toy_task:ToyTask", epochs=1, n=128, device="cpu",
                output_dir=str(tmp_path / "r"))
    assert evaluate.main(["--run-dir", run.run_dir]) == 0
    assert len(seen) >= 3 and all(s == {1} for s in seen), seen
