"""DIN speed: train step at batch 4096 / maxlen 20, evaluation, input pipeline, preprocessing."""
import pytest

from benchmarks import common, realsize
from datasets import amazon
from training.infra.sharding import epoch_dataset

pytest.importorskip("pytest_benchmark")


@pytest.fixture(scope="module")
def bench():
    """The DIN step at batch 4096, maxlen 20 (built once per module)."""
    return common.din(batch_size=4096, maxlen=20, n_batches=8)[0]


def test_din_train_step(benchmark, bench):
    """Samples/s of the compiled training step."""
    batches = iter(bench.batches * 1000)
    bench.trainer.train_step(bench.batches[0]).numpy()
    benchmark(lambda: bench.trainer.train_step(next(batches)).numpy())
    benchmark.extra_info["samples_per_step"] = 4096


def test_din_evaluation(benchmark, bench):
    """Rows/s of scoring the test split."""
    arrays = bench.data.eval_arrays("test")
    bench.trainer.score_arrays(arrays, 8192)
    benchmark(bench.trainer.score_arrays, arrays, 8192)
    benchmark.extra_info["rows"] = len(arrays["row"])


def test_din_input_pipeline(benchmark, bench):
    """Batches/s of one epoch's input pipeline alone."""
    def epoch():
        for _ in epoch_dataset(bench.data, 4096, 0, 0):
            pass
    benchmark(epoch)


def test_din_preprocessing_raw_files(benchmark, tmp_path):
    """A tenth of the real size (19k users, 169k reviews); the runner does the full size.

    Args:
      benchmark: the pytest-benchmark fixture.
      tmp_path: where the files go.
    """
    directory = realsize.amazon_files(str(tmp_path / "raw"), users=19240, items=6300,
                                      categories=801, reviews=168919)
    counter = iter(range(10 ** 6))
    benchmark.pedantic(lambda: amazon.load(directory, str(tmp_path / "c{}".format(next(counter)))),
                       rounds=2, iterations=1)
