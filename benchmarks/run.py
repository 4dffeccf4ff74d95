"""JSON benchmark runner: ``python -m benchmarks.run --model {ngnn,din} --out FILE.json``.

For each configuration: median training samples/s over timed windows after warm-up
(compilation timed separately), peak resident memory, and, for ``--preprocess``, the seconds
to preprocess real-size raw files and to reopen them from the cache. Sweeps: NGNN over batch
size (16, 64, 256, 1024) and outfit size (3, 5, 8); DIN over history length
(10, 20, 50, 100, 200) and batch size (256, 1024, 4096). Every record carries the device,
precision, TensorFlow/Keras versions and CPU count.
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from benchmarks import common, realsize


def _record(kind, params, bench, runtime, windows, steps):
    timing = common.time_calls(bench.trainer.train_step, bench.batches, bench.batch_size,
                               warmup=3, windows=windows, steps=steps)
    record = {"benchmark": kind, "params": params, "train_samples_per_sec":
              timing["samples_per_sec"], "window_rates": timing["window_rates"],
              "compile_seconds": timing["compile_seconds"], "peak_rss_mb": common.peak_rss_mb()}
    record.update(common.environment(runtime))
    print(json.dumps({k: v for k, v in record.items() if k != "window_rates"}), flush=True)
    return record


def run_ngnn(args):
    records = []
    data = realsize.polyvore_in_memory()
    for batch in (16, 64, 256, 1024):
        bench, runtime = common.ngnn(batch, device=args.device, precision=args.precision,
                                     data=data, n_batches=20)
        records.append(_record("ngnn_train", {"batch_size": batch, "outfit_size": "3-8"},
                               bench, runtime, args.windows, max(4, 2048 // batch)))
        if batch == 16:
            arrays = bench.task.eval_arrays(data, "test")
            start = time.time()
            bench.trainer.score_arrays(arrays, 512)
            records.append({"benchmark": "ngnn_fitb_eval", "outfits": len(arrays["items"]),
                            "seconds_first_call": time.time() - start})
            start = time.time()
            n = sum(1 for _ in bench.task.train_dataset(data, 16, 0, 0).take(1000))
            records.append({"benchmark": "ngnn_input_pipeline", "batch_size": 16,
                            "samples_per_sec": n * 16 / (time.time() - start)})
    for size in (3, 5, 8):
        sized = realsize.polyvore_in_memory(n_train=4000, outfit_size=size)
        bench, runtime = common.ngnn(256, device=args.device, precision=args.precision,
                                     data=sized, n_batches=12)
        records.append(_record("ngnn_train", {"batch_size": 256, "outfit_size": size}, bench,
                               runtime, args.windows, 8))
    return records


def run_din(args):
    records = []
    for maxlen in (10, 20, 50, 100, 200):
        bench, runtime = common.din(4096, maxlen, device=args.device, precision=args.precision,
                                    n_batches=6)
        records.append(_record("din_train", {"batch_size": 4096, "maxlen": maxlen}, bench,
                               runtime, args.windows, 6))
    for batch in (256, 1024):
        bench, runtime = common.din(batch, 20, device=args.device, precision=args.precision,
                                    n_batches=max(6, 16384 // batch))
        records.append(_record("din_train", {"batch_size": batch, "maxlen": 20}, bench,
                               runtime, args.windows, max(6, 16384 // batch)))
    if args.preprocess:
        from datasets import amazon  # pylint: disable=import-outside-toplevel

        work = tempfile.mkdtemp(prefix="npurec-bench-")
        try:
            start = time.time()
            raw = realsize.amazon_files(os.path.join(work, "raw"))
            generated = time.time() - start
            start = time.time()
            _, sizes, _ = amazon.load(raw, os.path.join(work, "cache"))
            first = time.time() - start
            start = time.time()
            amazon.load(raw, os.path.join(work, "cache"))
            cached = time.time() - start
        finally:
            shutil.rmtree(work, ignore_errors=True)
        records.append({"benchmark": "din_preprocessing", "sizes": sizes,
                        "generate_seconds": generated, "first_run_seconds": first,
                        "cache_hit_seconds": cached, "peak_rss_mb": common.peak_rss_mb()})
        print(json.dumps(records[-1]), flush=True)
    return records


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--model", required=True, choices=["ngnn", "din"])
    parser.add_argument("--device", default="cpu", choices=["auto", "npu", "gpu", "cpu"])
    parser.add_argument("--precision", default="fp32", choices=["fp32", "mixed", "bf16"])
    parser.add_argument("--windows", type=int, default=5, help="timed windows per record")
    parser.add_argument("--preprocess", action="store_true",
                        help="DIN: also time real-size raw-file preprocessing (minutes)")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    records = run_ngnn(args) if args.model == "ngnn" else run_din(args)
    with open(args.out, "w") as handle:
        json.dump({"model": args.model, "records": records}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
