"""npurec's DIN against the DIN of the libraries people would pick instead, on the SAME rows:
``python -m benchmarks.peers --data embedded longtail remap movielens --out peers.json``.

The question a user asks is not samples per second but: how long until I have a model as good
as the one I would otherwise get, and how good is it at the end? For each data set this:

1. exports npurec's exact DIN rows (train / validation / test: histories, candidates, labels,
   users) as a peer reads them (:func:`export_rows`; layout in :mod:`benchmarks.peer_common`);
2. runs npurec's DEFAULT ``training.fit --model din`` on the same data, in a child process;
3. trains each peer's DIN on the exported rows, each in a child process of the peer's own
   environment (``--python deepctr=/venv/bin/python``): DeepCTR (Keras, the same framework:
   :mod:`benchmarks.peer_deepctr`) and RecBole (PyTorch: :mod:`benchmarks.peer_recbole`), each
   with its documented defaults and with npurec's hyperparameters where it has them
   (embedding size, learning rate, batch; the history length is the export's);
4. records, per peer run: its training samples/s, the seconds to its best validation AUC, its
   test AUC / GAUC / log loss at that epoch (computed from its scores with npurec's own
   metrics), and the seconds npurec's default took to reach the same validation AUC (from
   its ``history.json`` wall clock): ``speedup`` is their ratio. The default run evaluates
   once an epoch, so where its FIRST evaluation is already above the peer's best the ratio
   is only a lower bound (``speedup_is_lower_bound``); a second npurec run with the same
   settings evaluated ``--fine-clock`` times an epoch (``train.eval_every_steps``, patience
   scaled to match) gives ``fine_speedup``. ``verdict`` says whether
   npurec reached the peer's best at least 5x sooner AND ended at least 0.01 test AUC above
   (issue 36's bar), and if not, which part failed.

Data sets (``--data``): ``embedded`` (the default interests generator), ``longtail`` (the
sparse generator), ``remap`` (the Ascend port's ``remap.pkl`` layout, 20,000 users and
items), ``movielens`` (MovieLens-100k fetched from the ``recbole==1.2.1`` wheel at run time,
the paper's protocol), ``movielens-amazon`` (the same ratings written as Amazon 2014 files:
every rating a positive with a sampled negative, split by time), or a folder (read as
``--data-dir``).

Runs go one after the other on this machine (npurec, then each peer), and the record names
the machine, TensorFlow's and each peer's versions, and npurec's commit. It is never part
of the test tiers (minutes to hours); ``tests/test_peers.py`` (slow tier) checks the runner
on a tiny export with a stand-in peer.

Install the peers in environments of their own (``pip install -e '.[peers]'`` lists them):
DeepCTR needs ``tf_keras`` (Keras 2), RecBole needs PyTorch.
"""
from __future__ import absolute_import, division, print_function

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS = ("user", "hist_items", "hist_cats", "hist_len", "target_item", "target_cat",
           "label")
PEERS = {"deepctr": "benchmarks.peer_deepctr", "recbole": "benchmarks.peer_recbole"}
BAR_SPEEDUP, BAR_AUC = 5.0, 0.01  # issue 36: 5x sooner, 0.01 test AUC above


def _npurec_settings():
    """npurec's DIN defaults a peer can take (embedding, learning rate, batch)."""
    from training.tasks.din import DINModelConfig, DINTask  # pylint: disable=C0415

    train = DINTask.train_defaults
    model = DINModelConfig()
    return {"embedding_dim": model.embedding_dim, "learning_rate": train["learning_rate"],
            "batch_size": train["batch_size"],
            "att_hidden_size": list(model.attention_units),
            "dnn_hidden_units": list(model.mlp_units)}


def peer_configs(peer, epochs, patience):
    """The two settings each peer runs with: its documented defaults, and npurec's
    hyperparameters where it has them.

    Args:
      peer: ``deepctr`` or ``recbole``.
      epochs / patience: the epoch budget and early stopping (both settings).

    Returns:
      A list of config dicts (``name`` tells them apart).
    """
    ours = _npurec_settings()
    common = {"epochs": epochs, "patience": patience, "seed": 0}
    if peer == "deepctr":
        return [dict(common, name="deepctr-defaults", batch_size=256),
                dict(common, name="deepctr-npurec-hparams", **ours)]
    return [dict(common, name="recbole-defaults"),
            dict(common, name="recbole-npurec-hparams",
                 **{k: ours[k] for k in ("embedding_dim", "learning_rate", "batch_size")})]


# -- data --------------------------------------------------------------------------------------
def resolve_data(name, work, smoke=False):
    """The ``training.fit`` flags of data set ``name`` (files written under ``work``).

    Returns:
      ``(flags, description)``.
    """
    from benchmarks import movielens_100k, realsize  # pylint: disable=import-outside-toplevel

    if name == "embedded":
        return ([], "embedded default (interests generator)")
    if name == "longtail":
        return (["--set", "data.synthetic_kind=longtail"],
                "embedded long-tail log (most items once, new items arriving)")
    if name == "remap":
        sizes = (400, 300, 20) if smoke else (20000, 20000, 200)
        folder = realsize.remap_layout(os.path.join(work, "remap"), *sizes)
        return (["--data-dir", folder], "remap.pkl layout ({:,} users, {:,} items, {} "
                "categories)".format(*sizes))
    if name in ("movielens", "movielens-amazon"):
        folder = os.path.join(work, "ml-100k")
        if not os.path.isdir(folder):
            wheel = movielens_100k.fetch_wheel(tempfile.mkdtemp(prefix="npurec-wheel-"))
            movielens_100k.convert(wheel, folder)
        if name == "movielens":
            return (["--data-dir", folder], "MovieLens-100k, the paper's protocol")
        return (["--data-dir", movielens_as_amazon(folder, os.path.join(work, "ml-amazon"))],
                "MovieLens-100k as Amazon 2014 files (positives + sampled negatives, by time)")
    if os.path.isdir(name):
        return (["--data-dir", os.path.abspath(name)], "folder " + name)
    raise SystemExit("peers: --data {!r}: expected embedded, longtail, remap, movielens, "
                     "movielens-amazon or a folder".format(name))


def movielens_as_amazon(movielens_dir, out):
    """MovieLens-100k's ratings as Amazon 2014 files: each rating a review (its stars the
    rating), each movie's category its rarest genre (as :mod:`datasets.movielens` takes it).

    Args:
      movielens_dir: ``u.data`` + ``u.item``.
      out: the folder to write (``reviews_Electronics_5.json.gz``, ``meta_Electronics.json``).

    Returns:
      ``out``.
    """
    from datasets import amazon  # pylint: disable=import-outside-toplevel

    os.makedirs(out, exist_ok=True)
    genres_of = {}
    with open(os.path.join(movielens_dir, "u.item"), encoding="latin-1") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("|")
            if len(fields) >= 24:
                genres_of[fields[0]] = [i for i, flag in enumerate(fields[5:24]) if flag == "1"]
    counts = np.zeros(19, np.int64)
    for genres in genres_of.values():
        counts[genres] += 1
    with open(os.path.join(out, amazon.META), "w") as handle:
        for movie, genres in sorted(genres_of.items()):
            rarest = min(genres, key=lambda g: (counts[g], g)) if genres else -1
            handle.write(json.dumps({"asin": "m" + movie,
                                     "categories": [["genre{}".format(rarest)]]}) + "\n")
    with gzip.open(os.path.join(out, amazon.REVIEWS + ".gz"), "wt") as handle:
        with open(os.path.join(movielens_dir, "u.data")) as ratings:
            for line in ratings:
                user, movie, rating, stamp = line.split()
                handle.write(json.dumps({"reviewerID": "u" + user, "asin": "m" + movie,
                                         "overall": float(rating),
                                         "unixReviewTime": int(stamp)}) + "\n")
    return out


def prepare(flags, seed=0):
    """npurec's DIN data for ``training.fit`` ``flags`` (data settings only), as a run
    prepares it (the cache the run reuses is ``NPUREC_CACHE``)."""
    from training.infra import config as cfg  # pylint: disable=import-outside-toplevel
    from training.tasks.din import DINTask  # pylint: disable=import-outside-toplevel

    sets = [flags[i + 1] for i, flag in enumerate(flags) if flag == "--set"]
    if "--data-dir" in flags:
        sets.append("data.data_dir=" + flags[flags.index("--data-dir") + 1])
    sections = cfg.resolve(DINTask, sets=sets)
    return DINTask(sections["model"], sections["data"]).prepare(seed)


def export_rows(data, out, description):
    """Write ``data``'s three splits as a peer reads them (:mod:`benchmarks.peer_common`).

    Args:
      data: a :class:`datasets.behaviour_data.BehaviourData`.
      out: the folder (created).
      description: what the data is, for the record.

    Returns:
      ``{split: rows}``.
    """
    os.makedirs(out, exist_ok=True)
    rows = {}
    for name in ("train", "validation", "test"):
        split = data.splits[name]
        parts = [split.read_range(start, min(start + 65536, split.num_rows))
                 for start in range(0, split.num_rows, 65536)]
        arrays = {key: np.concatenate([np.asarray(p[key]) for p in parts]) for key in COLUMNS}
        arrays["label"] = arrays["label"].astype(np.float32)
        np.savez(os.path.join(out, name + ".npz"), **arrays)
        rows[name] = int(split.num_rows)
    meta = {"sizes": {k: int(data.sizes[k]) for k in ("items", "categories")},
            "maxlen": int(data.maxlen), "data": description, "rows": rows,
            "protocol": data.protocol}
    with open(os.path.join(out, "meta.json"), "w") as handle:
        json.dump(meta, handle, indent=1)
    return rows


# -- runs --------------------------------------------------------------------------------------
def _env():
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))


def run_npurec(flags, run_dir, log_path, smoke=False, extra=()):
    """npurec's default DIN run in a child; ``(metrics.json, history.json, seconds)``."""
    extra = list(extra) or (["--epochs", "1", "--set", "train.steps_per_epoch=3",
                             "--batch-size", "64"] if smoke else [])
    command = [sys.executable, "-m", "training.fit", "--model", "din", "--output-dir", run_dir,
               "--seed", "0"] + flags + extra
    start = time.time()
    with open(log_path, "w") as log:
        code = subprocess.call(command, cwd=ROOT, env=_env(), stdout=log,
                               stderr=subprocess.STDOUT)
    seconds = time.time() - start
    if code:
        with open(log_path) as handle:
            raise RuntimeError("npurec's run failed ({}):\n{}".format(
                " ".join(command), handle.read()[-3000:]))
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        metrics = json.load(handle)
    with open(os.path.join(run_dir, "history.json")) as handle:
        history = json.load(handle)
    return metrics, history, seconds


def run_peer(peer, python, export, out, config, log_path, module=None):
    """One peer run in a child of ``python``, working in ``out``: a peer writes beside it
    (RecBole: ``log_tensorboard/``), and a run from the repository must not leave
    those in the checkout. Returns its result.json (None: it failed, the log's end is in
    ``error``)."""
    export, out = os.path.abspath(export), os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    command = [python, "-m", module or PEERS[peer], "--export", export, "--out", out,
               "--config", json.dumps(config)]
    env = _env()
    if peer == "deepctr":  # Keras 2 code: tf_keras, set before TensorFlow starts
        env.setdefault("TF_USE_LEGACY_KERAS", "1")
    start = time.time()
    with open(log_path, "w") as log:
        code = subprocess.call(command, cwd=out, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    result_path = os.path.join(out, "result.json")
    if code or not os.path.isfile(result_path):
        with open(log_path) as handle:
            return {"name": config["name"], "error": handle.read()[-2000:],
                    "exit_code": code}
    with open(result_path) as handle:
        result = json.load(handle)
    result["process_seconds"] = round(time.time() - start, 1)
    return result


def fine_clock_flags(train_rows, times, smoke=False):
    """``training.fit`` flags that evaluate ``times`` times an epoch (``train.eval_every_steps``;
    patience, which counts evaluations, multiplied to match): the default run's training,
    data order included, on a finer clock than its one evaluation an epoch. More evaluations
    cost time, so this clock is slower than the default's, never flattering."""
    from training.tasks.din import DINTask  # pylint: disable=import-outside-toplevel

    train = DINTask.train_defaults
    batch = 64 if smoke else train["batch_size"]
    every = max(train_rows // batch // times, 1)
    flags = ["--set", "train.eval_every_steps={}".format(every), "--set",
             "train.patience={}".format(train["patience"] * times)]
    if smoke:
        flags += ["--epochs", "1", "--set", "train.steps_per_epoch=3", "--batch-size", "64"]
    return flags


def score_record(result, export_rows_, out):
    """The peer's test metrics at its best epoch, from its scores, with npurec's metrics."""
    from training.infra import metrics as M  # pylint: disable=import-outside-toplevel
    from training.tasks import din_metrics  # pylint: disable=import-outside-toplevel

    scores = np.load(os.path.join(out, "test.npy"))
    test = export_rows_["test"]
    scores = np.clip(scores, 1e-7, 1 - 1e-7)
    return {"auc": M.auc(test["label"], scores), "logloss": M.logloss(test["label"], scores),
            "gauc": din_metrics.gauc(test["user"], test["label"], scores)}


def judge(best_auc, best_seconds, peer_test_auc, our_test_auc, clock, fine_clock=None):
    """How npurec's default compares with one peer run, against issue 36's bar.

    Args:
      best_auc / best_seconds: the peer's best validation AUC and its wall-clock seconds.
      peer_test_auc / our_test_auc: both sides' test AUC.
      clock / fine_clock: npurec's evaluations as ``[[seconds, validation AUC], ...]``: the
        default run's and the fine-clock run's (or None).

    Returns:
      The comparison's fields (speedups, lower-bound flags, gain, verdict).
    """
    def reach(points):
        found = next((p for p in points or () if p[1] >= best_auc), None)
        return (found[0], found is points[0]) if found else (None, False)

    reached, lower_bound = reach(clock)
    fine, fine_lower_bound = reach(fine_clock)
    speedup = best_seconds / reached if reached else None
    fine_speedup = best_seconds / fine if fine else None
    gain = our_test_auc - peer_test_auc
    failed = []
    judged = max([v for v in (speedup, fine_speedup) if v is not None], default=None)
    if judged is None:
        failed.append("npurec never reached the peer's validation AUC {:.4f}".format(best_auc))
    elif judged < BAR_SPEEDUP:
        bound = lower_bound if judged == speedup else fine_lower_bound
        failed.append("{:.1f}x sooner{}, under {:.0f}x".format(
            judged, " (npurec's first evaluation, its compile included, was already above: "
            "a lower bound)" if bound else "", BAR_SPEEDUP))
    if gain < BAR_AUC:
        failed.append("test AUC {:+.4f}, under +{}".format(gain, BAR_AUC))
    return {"npurec_seconds_to_same_validation_auc": reached,
            "speedup": round(speedup, 2) if speedup else None,
            "speedup_is_lower_bound": lower_bound,
            "npurec_fine_clock_seconds_to_same": fine,
            "fine_speedup": round(fine_speedup, 2) if fine_speedup else None,
            "fine_speedup_is_lower_bound": fine_lower_bound,
            "test_auc_gain": round(gain, 4),
            "verdict": "beats the bar" if not failed else "; ".join(failed)}


def compare(peer_result, test, npurec_metrics, history, fine_history=None):
    """The record of one peer run against npurec's default (and its fine-clock run)."""
    best = peer_result["best"]
    rates = [e["train_samples_per_sec"] for e in peer_result["epochs"]]
    out = {"peer": peer_result["name"], "versions": peer_result.get("versions"),
           "applied": peer_result.get("applied"),
           "samples_per_sec": float(np.median(rates)) if rates else None,
           "epochs_run": len(peer_result["epochs"]),
           "best_epoch": best["epoch"], "best_validation_auc": best["validation_auc"],
           "seconds_to_best": best["seconds"], "test": test}
    out.update(judge(best["validation_auc"], best["seconds"], test["auc"],
                     npurec_metrics["test"]["auc"], _clock(history),
                     _clock(fine_history) if fine_history else None))
    return out


def _clock(history):
    """``[[seconds, validation AUC], ...]`` of a run's evaluations."""
    return [[r["seconds"], round(r["validation"]["auc"], 5)] for r in history]


def machine():
    """What the record names the machine by."""
    model = ""
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle
                          if line.startswith("model name")), "")
    except OSError:
        pass
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            universal_newlines=True).stdout.strip()
    return {"cpu": model, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "npurec_commit": commit or None}


def run(args):
    """Every data set: export, npurec's default, each peer in each setting. Returns the
    record."""
    work = tempfile.mkdtemp(prefix="npurec-peers-")
    os.environ.setdefault("NPUREC_CACHE", os.path.join(work, "cache"))
    pythons = dict(item.split("=", 1) for item in args.python)
    modules = dict(item.split("=", 1) for item in args.peer_module)
    record = {"benchmark": "peers", "machine": machine(), "bar": {
        "speedup": BAR_SPEEDUP, "test_auc_gain": BAR_AUC}, "data": []}
    try:
        for number, name in enumerate(args.data):
            flags, description = resolve_data(name, work, args.smoke)
            export = os.path.join(work, "export{}".format(number))
            data = prepare(flags)
            rows = export_rows(data, export, description)
            del data
            from benchmarks import peer_common  # pylint: disable=import-outside-toplevel

            _, exported = peer_common.load_export(export)
            run_dir = os.path.join(work, "npurec{}".format(number))
            metrics, history, seconds = run_npurec(
                flags, run_dir, os.path.join(work, "npurec{}.log".format(number)), args.smoke)
            fine_history, fine_entry = None, None
            if args.fine_clock > 1:
                fine_flags = fine_clock_flags(rows["train"], args.fine_clock, args.smoke)
                fine_metrics, fine_history, _ = run_npurec(
                    flags, run_dir + "-fine", run_dir + "-fine.log", args.smoke, fine_flags)
                fine_entry = {"flags": fine_flags, "test": fine_metrics["test"],
                              "history": _clock(fine_history)}
            entry = {"data": description, "rows": rows, "npurec": {
                "test": metrics["test"], "best_validation_auc": metrics.get("best_value"),
                "time_to_quality": metrics.get("time_to_quality"),
                "steps": metrics.get("steps"), "process_seconds": round(seconds, 1),
                "history": _clock(history),
                "baselines_test": {k: v.get("auc") for k, v in
                                   metrics["baselines"]["test"].items()}},
                "npurec_fine_clock": fine_entry, "peers": []}
            for peer in args.peers:
                for config in peer_configs(peer, args.epochs, args.patience):
                    out = os.path.join(work, "{}-{}".format(config["name"], number))
                    result = run_peer(peer, pythons.get(peer, sys.executable), export, out,
                                      config, out + ".log", modules.get(peer))
                    if "error" in result:
                        entry["peers"].append(result)
                    else:
                        test = score_record(result, exported, out)
                        entry["peers"].append(compare(result, test, metrics, history,
                                                      fine_history))
                    print(json.dumps(entry["peers"][-1])[:2000], flush=True)
            record["data"].append(entry)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return record


def markdown(records):
    """The records of one or more runs as the Markdown table docs/performance.md shows."""
    def num(value, digits=3):
        return "-" if value is None else "{:.{}f}".format(value, digits)

    lines = ["| data | peer, setting | peer samples/s | peer best validation AUC (epoch) "
             "| peer s to it | peer test AUC / GAUC / log loss | npurec s to it: default / "
             "fine clock | sooner | npurec test AUC (gain) | verdict |",
             "|---|---|---:|---:|---:|---|---:|---:|---:|---|"]
    for record in records:
        for entry in record["data"]:
            ours = entry["npurec"]["test"]["auc"]
            for peer in entry["peers"]:
                if "error" in peer:
                    lines.append("| {} | {} | failed: {} |".format(
                        entry["data"], peer["name"], peer["error"].strip().splitlines()[-1]))
                    continue
                test = peer["test"]
                fine_clock = (entry.get("npurec_fine_clock") or {}).get("history")
                peer = dict(peer, **judge(peer["best_validation_auc"], peer["seconds_to_best"],
                                          test["auc"], ours, entry["npurec"]["history"],
                                          fine_clock))  # today's rule on the stored clocks
                fine = peer.get("fine_speedup")
                sooner = max(v for v in (peer["speedup"], fine, 0) if v is not None)
                bound = peer.get("fine_speedup_is_lower_bound") if sooner == fine else \
                    peer.get("speedup_is_lower_bound")
                lines.append("| {} | {} | {:,.0f} | {} ({}) | {} | {} / {} / {} | {} / {} | "
                             "{}{}x | {} ({:+.3f}) | {} |".format(
                                 entry["data"], peer["peer"], peer["samples_per_sec"],
                                 num(peer["best_validation_auc"]), peer["best_epoch"],
                                 num(peer["seconds_to_best"], 1), num(test["auc"]),
                                 num(test["gauc"]), num(test["logloss"]),
                                 num(peer["npurec_seconds_to_same_validation_auc"], 1),
                                 num(peer.get("npurec_fine_clock_seconds_to_same"), 1),
                                 ">= " if bound else "", num(sooner, 1), num(ours),
                                 ours - test["auc"], peer["verdict"]))
    return "\n".join(lines)


def _read_record(path, parser):
    """A stored record for ``--table``; a missing, unreadable or foreign file is a usage error
    that names it."""
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (OSError, ValueError) as err:
        parser.error("--table {}: {}".format(path, err))
    if not isinstance(record, dict) or record.get("benchmark") != "peers" \
            or not isinstance(record.get("data"), list):
        parser.error("--table {}: not a peers record (expected the JSON that "
                     "`python -m benchmarks.peers --out` writes)".format(path))
    return record


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", default=["embedded"],
                        help="embedded, longtail, remap, movielens, movielens-amazon or a "
                             "folder")
    parser.add_argument("--peers", nargs="+", default=sorted(PEERS), choices=sorted(PEERS))
    parser.add_argument("--python", action="append", default=[], metavar="PEER=PYTHON",
                        help="the interpreter of a peer's environment (default: this one)")
    parser.add_argument("--peer-module", action="append", default=[], metavar="PEER=MODULE",
                        help=argparse.SUPPRESS)  # tests: a stand-in peer
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--fine-clock", type=int, default=8,
                        help="a second npurec run evaluating this many times an epoch "
                             "(1: none)")
    parser.add_argument("--smoke", action="store_true", help="tiny runs (tests)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--out", help="the record to write (required unless --table)")
    parser.add_argument("--table", nargs="+", metavar="RECORD",
                        help="print the Markdown table of stored records and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown([_read_record(path, parser) for path in args.table]))
        return 0
    if not args.out:
        parser.error("--out is required (or --table RECORD.json ... to render stored records)")
    for item in args.python + args.peer_module:
        if "=" not in item or item.split("=", 1)[0] not in PEERS:
            parser.error("{!r}: expected PEER=VALUE with PEER one of {}".format(
                item, ", ".join(sorted(PEERS))))
    if args.epochs < 1 or args.patience < 1 or args.fine_clock < 1:
        parser.error("--epochs, --patience and --fine-clock must be at least 1")
    from core import files  # pylint: disable=import-outside-toplevel
    from core.errors import UsageError  # pylint: disable=import-outside-toplevel

    try:
        files.check_creatable(args.out, "--out")
    except UsageError as err:
        parser.error(str(err))
    record = run(args)
    with files.atomic_file(args.out) as handle:
        json.dump(record, handle, indent=1)
    print("peers: wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
