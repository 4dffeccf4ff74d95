"""JSON benchmark runner: ``python -m benchmarks.run --model {ngnn,din} --out FILE.json``.

For each configuration: median training samples/s over timed windows after warm-up
(compilation timed separately), peak resident memory, and, for ``--preprocess``, the seconds
to preprocess real-size raw files and to reopen them from the cache. Sweeps: NGNN over batch
size (16, 64, 256, 1024) and outfit size (3, 5, 8); DIN over history length
(10, 20, 50, 100, 200) and batch size (256, 1024, 4096). Every record carries the device,
precision, TensorFlow/Keras versions and CPU count.

``--model quality``: time to quality (:func:`run_quality`).

``--model featurize``: images/s of ``datasets.featurize`` (decode + resize + backbone) per
backbone at its native size, the input pipeline alone, and the hours a full Polyvore release
(~160,000 item images) would take at that rate.
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from core import files
from core.errors import UsageError
from core.precision import DEVICES, PRECISIONS

# benchmarks.common imports TensorFlow: imported in the functions, after main() has started
# TensorFlow quietly


def _record(kind, params, bench, runtime, windows, steps, flops_per_sample, peak_gflops):
    """One timed configuration; ``utilisation`` is the model's matmul GFLOP/s (see
    :mod:`benchmarks.flops`) over this machine's own fp32 matmul GFLOP/s."""
    from benchmarks import common  # pylint: disable=import-outside-toplevel

    timing = common.time_calls(bench.trainer.train_step, bench.batches, bench.batch_size,
                               warmup=3, windows=windows, steps=steps)
    model_gflops = timing["samples_per_sec"] * flops_per_sample / 1e9
    record = {"benchmark": kind, "params": params, "train_samples_per_sec":
              timing["samples_per_sec"], "window_rates": timing["window_rates"],
              "compile_seconds": timing["compile_seconds"], "peak_rss_mb": common.peak_rss_mb(),
              "train_mflops_per_sample": flops_per_sample / 1e6,
              "model_gflops_per_sec": model_gflops, "matmul_peak_gflops": peak_gflops,
              "utilisation": model_gflops / peak_gflops}
    record.update(common.environment(runtime))
    print(json.dumps({k: v for k, v in record.items() if k != "window_rates"}), flush=True)
    return record


# --smoke: every mode on tiny sizes (the test suite runs it; the numbers mean nothing)
SMOKE = {"ngnn_batches": (16,), "ngnn_sizes": (3,), "polyvore": {"n_train": 120, "n_eval": 16},
         "din_maxlens": (10,), "din_batches": (256,), "din_rows_batches": 3,
         "amazon": {"users": 60, "items": 50, "categories": 5, "reviews": 600},
         "images": 4, "image_batch": 2, "backbones": "mobilenet_v2"}


def run_ngnn(args):
    """NGNN records: train steps per batch and outfit size, FITB evaluation, input pipeline.

    Args:
      args: the parsed command line.

    Returns:
      A list of records.
    """
    from benchmarks import common, flops, realsize  # pylint: disable=import-outside-toplevel
    from training.infra.sharding import epoch_dataset  # pylint: disable=import-outside-toplevel

    records = []
    smoke = getattr(args, "smoke", False)
    peak = _peak(args)
    data = realsize.polyvore_in_memory(**(SMOKE["polyvore"] if smoke else {}))
    for batch in SMOKE["ngnn_batches"] if smoke else (16, 64, 256, 1024):
        bench, runtime = common.ngnn(batch, device=args.device, precision=args.precision,
                                     data=data, n_batches=4 if smoke else 20)
        records.append(_record("ngnn_train", {"batch_size": batch, "outfit_size": "3-8"},
                               bench, runtime, args.windows,
                               2 if smoke else max(4, 2048 // batch),
                               flops.ngnn_train_flops(bench.trainer.model,
                                                      flops.mean_nodes(data)), peak))
        if batch == 16:
            arrays = data.eval_arrays("test")
            start = time.time()
            bench.trainer.score_arrays(arrays, 512)
            records.append({"benchmark": "ngnn_fitb_eval", "outfits": len(arrays["items"]),
                            "seconds_first_call": time.time() - start})
            start = time.time()
            n = sum(1 for _ in epoch_dataset(data, 16, 0, 0).take(1000))
            records.append({"benchmark": "ngnn_input_pipeline", "batch_size": 16,
                            "samples_per_sec": n * 16 / (time.time() - start)})
    for size in SMOKE["ngnn_sizes"] if smoke else (3, 5, 8):
        sized = realsize.polyvore_in_memory(
            outfit_size=size, **(SMOKE["polyvore"] if smoke else {"n_train": 4000}))
        batch = 16 if smoke else 256
        bench, runtime = common.ngnn(batch, device=args.device, precision=args.precision,
                                     data=sized, n_batches=4 if smoke else 12)
        records.append(_record("ngnn_train", {"batch_size": batch, "outfit_size": size}, bench,
                               runtime, args.windows, 2 if smoke else 8,
                               flops.ngnn_train_flops(bench.trainer.model, size), peak))
    return records


def run_din(args):
    """DIN records: train steps per batch and maxlen, preprocessing of real-size files.

    Args:
      args: the parsed command line.

    Returns:
      A list of records.
    """
    from benchmarks import common  # pylint: disable=import-outside-toplevel

    records = []
    smoke = getattr(args, "smoke", False)
    if args.preprocess:  # first: its peak memory is then its own
        records.append(_preprocess(smoke))
    peak = _peak(args)
    big = SMOKE["din_batches"][0] if smoke else 4096
    for maxlen in SMOKE["din_maxlens"] if smoke else (10, 20, 50, 100, 200):
        bench, runtime = common.din(big, maxlen, device=args.device, precision=args.precision,
                                    n_batches=SMOKE["din_rows_batches"] if smoke else 6)
        records.append(_record("din_train", {"batch_size": big, "maxlen": maxlen}, bench,
                               runtime, args.windows, 2 if smoke else 6,
                               _din_flops(bench, maxlen), peak))
    for batch in SMOKE["din_batches"] if smoke else (256, 1024):
        steps = 2 if smoke else max(6, 16384 // batch)
        bench, runtime = common.din(batch, 20, device=args.device, precision=args.precision,
                                    n_batches=SMOKE["din_rows_batches"] if smoke else steps)
        records.append(_record("din_train", {"batch_size": batch, "maxlen": 20}, bench,
                               runtime, args.windows, steps,
                               _din_flops(bench, 20), peak))
    return records


def _din_flops(bench, maxlen):
    """FLOPs per DIN sample of the positions the attention really computes."""
    from benchmarks import flops  # pylint: disable=import-outside-toplevel

    return flops.din_train_flops(bench.trainer.model, maxlen,
                                 bench.data.splits["train"]["hist_len"])


def _peak(args):
    from benchmarks import flops  # pylint: disable=import-outside-toplevel

    peak = flops.matmul_peak_gflops(args.device, size=256 if getattr(args, "smoke", False) else 2048)
    print(json.dumps({"matmul_peak_gflops": peak, "device": args.device}), flush=True)
    return peak


_PREPROCESS = """
import json, sys, time
from datasets import amazon
start = time.time()
sizes = amazon.load(sys.argv[1], sys.argv[2]).sizes
first = time.time() - start
start = time.time()
amazon.load(sys.argv[1], sys.argv[2])
print(json.dumps({"sizes": sizes, "first": first, "cached": time.time() - start}))
"""


def _preprocess(smoke):
    """Seconds to preprocess real-size raw Amazon files, first run and cache hit, and the
    peak memory of doing so: the two loads run in a fresh child process (``python -c``), so
    its peak is preprocessing's alone, not the file generator's or the benchmarks'."""
    from benchmarks import child, realsize  # pylint: disable=import-outside-toplevel

    work = tempfile.mkdtemp(prefix="npurec-bench-")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        start = time.time()
        raw = realsize.amazon_files(os.path.join(work, "raw"),
                                    **(SMOKE["amazon"] if smoke else {}))
        generated = time.time() - start
        log_path = os.path.join(work, "preprocess.log")
        env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        code, _, peak = child.run_python("-c", _PREPROCESS, [raw, os.path.join(work, "cache")],
                                         log_path, cwd=root, env=env)
        with open(log_path) as handle:
            output = handle.read()
        if code:
            raise RuntimeError("preprocessing failed:\n" + output[-3000:])
        result = json.loads(output.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record = {"benchmark": "din_preprocessing", "sizes": result["sizes"],
              "generate_seconds": generated, "first_run_seconds": result["first"],
              "cache_hit_seconds": result["cached"], "peak_rss_mb": peak,
              "peak_rss_of": "the preprocessing process alone (a fresh child)"}
    print(json.dumps(record), flush=True)
    return record


RELEASE_IMAGES = 164379  # item images of the public Polyvore release (train+valid+test)
OUTFITS_IMAGES = 261000  # about 261k item images of Polyvore Outfits (issue 36's figure)


def run_featurize(args):
    """Images/s of the featurizer per backbone (random weights: the speed is the same).

    Args:
      args: the parsed command line.

    Returns:
      A list of records.
    """
    from benchmarks import common  # pylint: disable=import-outside-toplevel
    from benchmarks import images as bench_images  # pylint: disable=import-outside-toplevel
    from datasets import images as image_io  # pylint: disable=import-outside-toplevel
    from training.infra import runtime as rt  # pylint: disable=import-outside-toplevel

    runtime = rt.configure(args.device, "fp32")  # the encoder sets its own dtype policy
    if getattr(args, "smoke", False):
        args.images, args.image_batch = SMOKE["images"], SMOKE["image_batch"]
        args.backbones = SMOKE["backbones"]
    work = tempfile.mkdtemp(prefix="npurec-bench-img-")
    records = []
    try:
        paths = bench_images.jpeg_files(work, args.images)
        for backbone in args.backbones.split(","):
            encoder = image_io.ImageEncoder(backbone, "none", precision=args.precision,
                                            batch_size=args.image_batch)
            for _ in encoder.encode_files(paths[:args.image_batch]):  # trace + warm up
                pass
            start = time.time()
            count = sum(len(rows) for rows, _, _ in encoder.encode_files(paths))
            seconds = time.time() - start
            rate = count / seconds
            record = {"benchmark": "featurize_images", "backbone": backbone,
                      "image_size": encoder.image_size, "dim": encoder.dim,
                      "batch_size": args.image_batch, "images": count,
                      "images_per_sec": rate,
                      "full_release_hours": RELEASE_IMAGES / rate / 3600.0,
                      "polyvore_outfits_hours": OUTFITS_IMAGES / rate / 3600.0,
                      "peak_rss_mb": common.peak_rss_mb()}
            record.update(common.environment(runtime), precision=args.precision)
            print(json.dumps(record), flush=True)
            records.append(record)
        start = time.time()
        count = sum(int(rows.shape[0]) for rows, _, _ in encoder._dataset(paths))  # pylint: disable=W0212
        records.append({"benchmark": "featurize_input_pipeline", "image_size":
                        encoder.image_size, "images_per_sec": count / (time.time() - start)})
        print(json.dumps(records[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return records


QUALITY_CASES = (
    ("ngnn", "embedded default", []),
    ("din", "embedded default", []),
    ("din", "remap.pkl layout (20,000 users, 20,000 items, 200 categories)", ["remap"]),
)


def run_quality(args):
    """Time to quality: each model's default ``training.fit`` run, in a fresh child process,
    on its embedded default and (DIN) the ``remap.pkl`` layout; the record is the run's
    ``metrics.json`` ``time_to_quality`` (wall-clock seconds of training to the selected
    checkpoint's validation metric and to within 0.005 of it) with the test metrics and the
    rules on the same rows.

    Args:
      args: the parsed command line (``--smoke``: 3 steps each, a small remap layout).

    Returns:
      A list of records.

    Raises:
      RuntimeError: a run failed (its log's end is in the message).
    """
    from benchmarks import child, realsize  # pylint: disable=import-outside-toplevel

    work = tempfile.mkdtemp(prefix="npurec-quality-")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # the user's NPUREC_CACHE when set (the embedded sets are made once), else a fresh one;
    # the record is training seconds, which do not include making the data
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""),
               NPUREC_CACHE=os.environ.get("NPUREC_CACHE") or os.path.join(work, "cache"))
    records = []
    try:
        # --smoke: one case per model (the DIN cases share every line of the runner)
        cases = [QUALITY_CASES[0], QUALITY_CASES[2]] if args.smoke else QUALITY_CASES
        for number, (model, data, needs) in enumerate(cases):
            run_dir = os.path.join(work, "run{}".format(number))
            flags = ["--model", model, "--output-dir", run_dir, "--seed", "0"]
            if "remap" in needs:
                sizes = (400, 300, 20) if args.smoke else (20000, 20000, 200)
                flags += ["--data-dir", realsize.remap_layout(os.path.join(work, "remap"),
                                                              *sizes)]
            if args.smoke:
                flags += ["--epochs", "1", "--set", "train.steps_per_epoch=3"]
                if model == "din":
                    flags += ["--batch-size", "256"]
            log_path = os.path.join(work, "run{}.log".format(number))
            code, seconds, peak = child.run_python("-m", "training.fit", flags, log_path,
                                                   cwd=root, env=env)
            if code:
                with open(log_path) as handle:
                    raise RuntimeError("{} on {} failed:\n{}".format(model, data,
                                                                     handle.read()[-3000:]))
            with open(os.path.join(run_dir, "metrics.json")) as handle:
                metrics = json.load(handle)
            record = {"benchmark": "time_to_quality", "model": model, "data": data,
                      "time_to_quality": metrics["time_to_quality"], "test": metrics["test"],
                      "rules_test": metrics["baselines"]["test"],
                      "steps": metrics["steps"], "best_step": metrics["best_step"],
                      "early_stopped": metrics["early_stopped"],
                      "process_seconds": seconds, "peak_rss_mb": peak}
            print(json.dumps(record), flush=True)
            records.append(record)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return records


def main(argv=None):
    """The command line: run one model's records and write them as JSON; returns 0.

    Args:
      argv: the arguments.

    Returns:
      0.
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--model", required=True, choices=["ngnn", "din", "featurize",
                                                           "quality"],
                        help="quality: time to quality of each model's default run")
    parser.add_argument("--device", default="cpu", choices=DEVICES)
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS)
    parser.add_argument("--windows", type=int, default=5, help="timed windows per record")
    parser.add_argument("--preprocess", action="store_true",
                        help="DIN: also time real-size raw-file preprocessing (minutes)")
    parser.add_argument("--images", type=int, default=256,
                        help="featurize: images timed per backbone")
    parser.add_argument("--image-batch", type=int, default=32, help="featurize: batch size")
    parser.add_argument("--backbones", default="inception_v3,resnet50,efficientnetb0,"
                        "mobilenet_v2", help="featurize: comma-separated backbones")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--smoke", action="store_true",
                        help="every record on tiny sizes, to check the runner (seconds; the "
                             "numbers mean nothing)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="show TensorFlow's start-up notices")
    args = parser.parse_args(argv)
    from core import quiet  # pylint: disable=import-outside-toplevel

    # the featurizer's convolutions run as `datasets.featurize` runs them: oneDNN as set
    quiet.start_tensorflow(args.verbose, onednn=args.model == "featurize")
    _check_args(parser, args)  # before any measurement: a refusal costs nothing
    runners = {"ngnn": run_ngnn, "din": run_din, "featurize": run_featurize,
               "quality": run_quality}
    records = runners[args.model](args)
    files.write_json(args.out, {"model": args.model, "smoke": bool(args.smoke),
                                "records": records}, sort_keys=False)
    return 0


def _check_args(parser, args):
    """Every argument checked before the first measurement (issue 35: ``--windows 0`` ended
    in StatisticsError, an unknown backbone in a traceback, and an ``--out`` in a missing
    folder failed only after every measurement). Exits 2 with argparse's usage line."""
    from datasets import images as image_io  # pylint: disable=import-outside-toplevel

    for flag, value in (("--windows", args.windows), ("--images", args.images),
                        ("--image-batch", args.image_batch)):
        if value < 1:
            parser.error("{} {}: must be at least 1".format(flag, value))
    unknown = [b for b in args.backbones.split(",") if b not in image_io.BACKBONES]
    if args.model == "featurize" and unknown:
        parser.error("--backbones: unknown {}; choose from {}".format(
            ", ".join(repr(b) for b in unknown), ", ".join(image_io.BACKBONES)))
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        parser.error("--out {}: the folder {} does not exist".format(args.out, folder))
    try:
        files.output_kind(args.out)
    except UsageError as err:
        parser.error(str(err))


if __name__ == "__main__":
    sys.exit(main())
