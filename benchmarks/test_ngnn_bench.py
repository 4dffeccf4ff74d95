"""NGNN speed at real size: train step, FITB evaluation, input pipeline, feature-store packing."""
import pytest

from benchmarks import common, realsize
from datasets.generators import polyvore_style
from datasets import polyvore as pv
from training.infra.sharding import epoch_dataset

pytest.importorskip("pytest_benchmark")


@pytest.fixture(scope="module")
def data():
    """Real-size Polyvore arrays in memory (once per module)."""
    return realsize.polyvore_in_memory()


@pytest.mark.parametrize("batch_size", [16, 256])
def test_ngnn_train_step(benchmark, data, batch_size):
    """Pairs/s of the compiled training step at each batch size."""
    bench, _ = common.ngnn(batch_size=batch_size, data=data, n_batches=20)
    batches = iter(bench.batches * 1000)
    bench.trainer.train_step(bench.batches[0]).numpy()  # compile outside the timing
    benchmark(lambda: bench.trainer.train_step(next(batches)).numpy())
    benchmark.extra_info["samples_per_step"] = batch_size


def test_ngnn_fitb_evaluation(benchmark, data):
    """Questions/s of FITB scoring."""
    bench, _ = common.ngnn(batch_size=16, data=data, n_batches=2)
    arrays = data.eval_arrays("test")
    bench.trainer.score_arrays(arrays, 512)
    benchmark(bench.trainer.score_arrays, arrays, 512)
    benchmark.extra_info["outfits_scored"] = len(arrays["items"])


def test_ngnn_input_pipeline(benchmark, data):
    """Batches/s of one epoch's input pipeline alone."""

    def epoch_slice():
        for _ in epoch_dataset(data, 16, 0, 0).take(500):
            pass
    benchmark(epoch_slice)
    benchmark.extra_info["samples"] = 500 * 16


def test_feature_store_packing(benchmark, tmp_path):
    """Seconds to pack per-item JSON features into a store."""
    root = polyvore_style.generate(n_train=300, n_valid=30, n_test=30, layout="zip",
                                   directory=str(tmp_path / "data"))
    counter = iter(range(10 ** 6))

    def pack():
        pv.load(root, str(tmp_path / "stores-{}".format(next(counter))))
    benchmark.pedantic(pack, rounds=3, iterations=1)
