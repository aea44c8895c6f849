"""Latency of the waveform -> face model: Keras, the SavedModel and each TFLite file, 1 and 2 threads.

    python benchmarks/inference_latency.py [--workdir DIR] [--preset small] [--runs 20]

Without --workdir, a work directory of randomly initialised models of --preset is written to a temporary
directory (latency and size do not depend on the weights). The models are exported once with
`s2f_tf.serving.export.export`; each thread count runs in a fresh process (TensorFlow fixes its thread
pools at start-up). Prints a markdown table (median and p90 over --runs runs after 2 warm-up runs) and a
JSON summary last.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)

SECONDS = (3, 10)


def _times(fn, runs: int) -> dict:
    for _ in range(2):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return {
        "median_ms": round(1000 * statistics.median(samples), 2),
        "p90_ms": round(1000 * samples[int(0.9 * (len(samples) - 1))], 2),
    }


def worker(args) -> list[dict]:
    """Time every artifact of one export with `args.threads` threads (runs in its own process)."""
    import tensorflow as tf

    args.threads = args.threads[0]
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from ai_edge_litert.interpreter import Interpreter

    from s2f_tf.serving.archive import build_inference_model
    from s2f_tf.serving.checks import check_clips
    from s2f_tf.workdir import load_inference_models

    version = Path(args.version_dir)
    config, encoder, generator = load_inference_models(args.workdir)
    rate = config.audio.sample_rate
    clips = {s: check_clips(rate, (s * rate,), seed=s)[0][None] for s in SECONDS}
    model = build_inference_model(config, encoder, generator)
    keras_fn = tf.function(model, reduce_retracing=True)
    signature = tf.saved_model.load(str(version)).signatures["serving_default"]
    rows = []

    def add(name, seconds, fn):
        rows.append(
            {"model": name, "threads": args.threads, "seconds": seconds, **_times(fn, args.runs)}
        )

    for seconds, clip in clips.items():
        tensor = tf.constant(clip)
        add("Keras (tf.function)", seconds, lambda t=tensor: keras_fn(t)["face"].numpy())
        add(
            "SavedModel serving_default",
            seconds,
            lambda t=tensor: signature(waveform=t)["face"].numpy(),
        )
    for path in sorted(version.glob("*.tflite")):
        interpreter = Interpreter(model_path=str(path), num_threads=args.threads)
        (input_detail,) = interpreter.get_input_details()
        output_index = interpreter.get_output_details()[0]["index"]
        for seconds, clip in clips.items():
            interpreter.resize_tensor_input(input_detail["index"], list(clip.shape))
            interpreter.allocate_tensors()

            def run(x=clip, interpreter=interpreter, i=input_detail["index"], o=output_index):
                interpreter.set_tensor(i, x)
                interpreter.invoke()
                return interpreter.get_tensor(o)

            add(f"TFLite {path.stem.rsplit('_', 1)[-1]}", seconds, run)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="trained work directory (default: random weights)")
    parser.add_argument(
        "--preset", default="small", help="preset for random weights (default small)"
    )
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement (>= 20)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--version-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    from s2f_tf.config import preset
    from s2f_tf.serving.export import export

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test fixture
    from random_workdir import write_random_workdir

    with tempfile.TemporaryDirectory(prefix="s2f_bench_") as tmp:
        # Random weights: a generator checkpoint without the moving average's optimizer slots, so the
        # config asks for none (generator_ema = 0; latency does not depend on it).
        config = preset(args.preset)
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, generator_ema=0.0)
        )
        workdir = args.workdir or write_random_workdir(Path(tmp) / "work", config)
        report = export(workdir, Path(tmp) / "savedmodels" / "bench")
        rows = []
        for threads in args.threads:
            command = [
                sys.executable, __file__, "--worker", "--workdir", str(workdir),
                "--version-dir", report["saved_model"]["path"], "--threads", str(threads),
                "--runs", str(args.runs),
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode:
                sys.exit(f"worker failed:\n{result.stderr[-3000:]}")
            rows += json.loads(result.stdout.strip().splitlines()[-1])

    sizes = {"SavedModel serving_default": report["saved_model"]["size_bytes"]}
    for q, item in report["tflite"].items():
        sizes[f"TFLite {q}"] = item["size_bytes"]
    names = list(dict.fromkeys(r["model"] for r in rows))
    header = ["model", "size (MB)"] + [
        f"{s} s, {t} thr (ms)" for s in SECONDS for t in args.threads
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        cells = [name, f"{sizes[name] / 1e6:.2f}" if name in sizes else "-"]
        for s in SECONDS:
            for t in args.threads:
                (row,) = [
                    r for r in rows if (r["model"], r["seconds"], r["threads"]) == (name, s, t)
                ]
                cells.append(f"{row['median_ms']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    print("\n".join(lines))
    quality = {
        q: {k: v for k, v in item.items() if "psnr" in k or "diff" in k or "relative" in k}
        for q, item in report["tflite"].items()
    }
    summary = {
        "preset": report["preset"],
        "weights": "trained" if args.workdir else "random",
        "runs": args.runs,
        "rows": rows,
        "sizes_bytes": sizes,
        "quality": quality,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
