"""Featurization speed: images/s through decode + resize + backbone, and the input pipeline
alone (is decoding the bottleneck?). Random weights: the speed does not depend on them."""
import pytest

from benchmarks import images as bench_images
from datasets import images as image_io

pytest.importorskip("pytest_benchmark")


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """64 generated JPEG files (once per module)."""
    return bench_images.jpeg_files(str(tmp_path_factory.mktemp("jpegs")), 64)


@pytest.mark.parametrize("backbone", ["inception_v3", "mobilenet_v2"])
def test_featurize_images(benchmark, paths, backbone):
    """Images/s of each backbone on 64 JPEGs."""
    encoder = image_io.ImageEncoder(backbone, "none", batch_size=32)
    for _ in encoder.encode_files(paths[:32]):  # trace outside the timing
        pass
    benchmark.pedantic(lambda: sum(len(r) for r, _, _ in encoder.encode_files(paths)),
                       rounds=2, iterations=1)
    benchmark.extra_info["images_per_round"] = len(paths)


def test_featurize_input_pipeline(benchmark, paths):
    """Images/s of decoding and resizing alone."""
    encoder = image_io.ImageEncoder("mobilenet_v2", "none", image_size=299, batch_size=32)
    benchmark(lambda: sum(int(r.shape[0]) for r, _, _ in encoder._dataset(paths)))  # noqa
    benchmark.extra_info["images_per_round"] = len(paths)
