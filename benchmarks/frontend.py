"""Front-end speed: LogMelSpectrogram (tf.function) vs the straightforward per-frame numpy reference.

Performance target 3 (benchmarks/RESULTS.md): >= 50x faster than the per-frame numpy implementation of docs/recipe.md, front-end steps 2-7, and >= 500x
real time on one core. Each thread setting runs in its own process, because TensorFlow's thread pools
are fixed once it starts.

    .venv/bin/python benchmarks/frontend.py            # table for 1 and 2 threads, 10 s and 60 s clips
    .venv/bin/python benchmarks/frontend.py --threads 1 --clips 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RATE = 16000


def interleaved_seconds(fns, repeats, warmup=2):
    """Median wall and process-CPU seconds per call of each callable, run alternately.

    Alternating makes the implementations share whatever load the machine has; CPU time (all threads of
    this process) is what a call costs even when other processes compete for the cores.
    """
    for fn in fns:
        for _ in range(warmup):
            fn()
    wall = [[] for _ in fns]
    cpu = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            fn()
            cpu[i].append(time.process_time() - start_cpu)
            wall[i].append(time.perf_counter() - start_wall)
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(wall, cpu, strict=True)]


def op_profile(threads, seconds, runs=10):
    """Per-op time (us per call) of the layer's graph, from TensorFlow's step stats."""
    import collections

    import numpy as np
    import tensorflow as tf

    from s2f_tf.frontend import LogMelSpectrogram

    graph = tf.Graph()
    with graph.as_default():
        waveform = tf.compat.v1.placeholder(tf.float32, [1, None])
        features = LogMelSpectrogram()(waveform)
    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads
    )
    feed = {waveform: 0.1 * np.random.default_rng(0).standard_normal((1, seconds * SAMPLE_RATE))}
    options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    totals = collections.Counter()
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        for _ in range(3):
            session.run(features, feed)
        for _ in range(runs):
            metadata = tf.compat.v1.RunMetadata()
            session.run(features, feed, options=options, run_metadata=metadata)
            for device in metadata.step_stats.dev_stats:
                for node in device.node_stats:
                    totals[node.node_name.split("/", 1)[-1]] += node.op_end_rel_micros / runs
    return totals


def measure(threads, clips, repeats):
    """Run in a fresh process: configure threads before TensorFlow starts, time both implementations."""
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    sys.path.insert(0, str(ROOT / "tests"))
    from reference_frontend import reference_logmel

    from s2f_tf.frontend import LogMelSpectrogram

    layer = LogMelSpectrogram()
    signature = [tf.TensorSpec([1, None], tf.float32)]
    run = tf.function(layer.call, input_signature=signature)
    # XLA compiles once per input length: a fit for fixed-length inference, not for random crops.
    run_xla = tf.function(layer.call, input_signature=signature, jit_compile=True)
    rng = np.random.default_rng(0)
    rows = []
    for seconds in clips:
        waveform = (0.1 * rng.standard_normal((1, seconds * SAMPLE_RATE))).astype(np.float32)
        tensor = tf.constant(waveform)
        samples = waveform[0].astype(np.float64) * 32768.0
        (np_wall, np_cpu), (tf_wall, tf_cpu), (xla_wall, xla_cpu) = interleaved_seconds(
            [
                lambda s=samples: reference_logmel(s),
                lambda t=tensor: run(t).numpy(),
                lambda t=tensor: run_xla(t).numpy(),
            ],
            repeats,
        )
        expected = reference_logmel(samples)
        rows.append(
            {
                "threads": threads,
                "clip_s": seconds,
                "numpy_wall_s": np_wall,
                "numpy_cpu_s": np_cpu,
                "tf_wall_s": tf_wall,
                "tf_cpu_s": tf_cpu,
                "xla_wall_s": xla_wall,
                "xla_cpu_s": xla_cpu,
                "tf_max_abs_diff": float(np.abs(run(tensor).numpy()[0] - expected).max()),
                "xla_max_abs_diff": float(np.abs(run_xla(tensor).numpy()[0] - expected).max()),
            }
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clips", type=int, nargs="+", default=[10, 60], help="clip lengths (s)")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved runs of each")
    parser.add_argument("--profile", action="store_true", help="also print the top ops (1 thread)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        if args.profile:
            totals = op_profile(args.threads[0], args.clips[0])
            print(json.dumps(dict(totals.most_common())))
        else:
            print(json.dumps(measure(args.threads[0], args.clips, args.repeats)))
        return

    rows = []
    for threads in args.threads:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)  # numpy's BLAS gets the same thread count as TensorFlow.
        command = [sys.executable, __file__, "--worker", "--threads", str(threads), "--clips"]
        command += [str(c) for c in args.clips]
        command += ["--repeats", str(args.repeats)]
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        rows += json.loads(result.stdout.strip().splitlines()[-1])

    print(
        "| threads | clip | numpy per-frame | LogMelSpectrogram | speed-up | x real time "
        "| LogMelSpectrogram, XLA | speed-up | x real time | max abs diff (TF / XLA) |"
    )
    print("|" + "---|" * 10)
    for r in rows:
        cells = [f"{r['threads']}", f"{r['clip_s']} s"]
        cells.append(f"{r['numpy_wall_s'] * 1e3:.1f} ms ({r['numpy_cpu_s'] * 1e3:.1f})")
        for key in ("tf", "xla"):
            wall, cpu = r[f"{key}_wall_s"], r[f"{key}_cpu_s"]
            cells.append(f"{wall * 1e3:.2f} ms ({cpu * 1e3:.2f})")
            cells.append(f"{r['numpy_wall_s'] / wall:.1f}x ({r['numpy_cpu_s'] / cpu:.1f}x)")
            cells.append(f"{r['clip_s'] / wall:.0f}x ({r['clip_s'] / cpu:.0f}x)")
        cells.append(f"{r['tf_max_abs_diff']:.1e} / {r['xla_max_abs_diff']:.1e}")
        print("| " + " | ".join(cells) + " |")
    print("Times are medians of interleaved runs: wall clock (process CPU time in brackets).")
    if args.profile:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        command = [sys.executable, __file__, "--worker", "--profile", "--threads", "1"]
        command += ["--clips", str(args.clips[0])]
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        totals = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"\nTop ops, 1 thread, {args.clips[0]} s clip (us per call, TF step stats):")
        print(f"  total {sum(totals.values()):.0f} us")
        for name, micros in list(totals.items())[:8]:
            print(f"  {micros:8.0f} us  {name}")
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
