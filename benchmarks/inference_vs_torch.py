"""Waveform -> face with TFLite (fp32, int8; front end included) vs the PyTorch reference on features.

    python benchmarks/inference_vs_torch.py [--preset wen2019] [--seconds 10] [--threads 2] [--runs 10]

A work directory of randomly initialised models of --preset is written and exported with
`s2f_tf.serving.export.export` (fp32 and int8 TFLite; the export's own checks report the int8 PSNR against
fp32). In one process, with --threads threads for both, the TFLite interpreters run the whole model on a
--seconds clip (log-mel front end + voice encoder + generator) and the PyTorch reference runs its voice
encoder + generator alone on precomputed log-mel features of the same clip (the front end is not timed
for it). Runs alternate; prints medians, the TFLite / PyTorch ratios, the int8 size and PSNR, and a JSON
summary last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)

TORCH = "PyTorch E + G (features -> face)"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="wen2019")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10)
    return parser.parse_args(argv)


def set_threads(threads: int) -> None:
    """`threads` threads for PyTorch and TensorFlow's intra-op pool, one inter-op thread (before
    TensorFlow starts its pools)."""
    import tensorflow as tf
    import torch

    torch.set_num_threads(threads)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def tflite_runners(config, clip, threads: int) -> tuple[dict, dict]:
    """Export a work directory of random `config` models to fp32 and int8 TFLite in a temporary
    directory: ({name: run that TFLite model on `clip`}, the export's report)."""
    from ai_edge_litert.interpreter import Interpreter

    from s2f_tf.serving.export import export

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test fixture
    from random_workdir import write_random_workdir

    with tempfile.TemporaryDirectory(prefix="s2f_bench_") as tmp:
        workdir = write_random_workdir(Path(tmp) / "work", config)
        report = export(workdir, Path(tmp) / "models" / "bench", quantizations=("fp32", "int8"))
        version = Path(report["saved_model"]["path"])
        runners = {}
        for q in ("fp32", "int8"):
            interpreter = Interpreter(
                model_path=str(version / f"bench_{q}.tflite"), num_threads=threads
            )
            (detail,) = interpreter.get_input_details()
            interpreter.resize_tensor_input(detail["index"], list(clip.shape))
            interpreter.allocate_tensors()
            out = interpreter.get_output_details()[0]["index"]

            def run(i=interpreter, index=detail["index"], out=out):
                i.set_tensor(index, clip)
                i.invoke()
                return i.get_tensor(out)

            runners[f"TFLite {q} (waveform -> face)"] = run
    return runners, report


def torch_runner(config, clip):
    """(log-mel features of `clip`, a call of the PyTorch reference's voice encoder + generator on them):
    the reference gets precomputed features (channels-first [1, 64, T]); the front end is not timed."""
    import tensorflow as tf
    import torch

    from benchmarks.torch_reference import ReferenceGAN
    from s2f_tf.frontend import LogMelSpectrogram

    features = LogMelSpectrogram(config.audio)(tf.constant(clip)).numpy()
    torch_features = torch.from_numpy(features).permute(0, 2, 1).contiguous()
    reference = ReferenceGAN(num_classes=2)
    return features, lambda: reference.infer(torch_features)


def time_alternately(runners: dict, runs: int) -> dict[str, list[float]]:
    """2 warm-up calls of each runner, then `runs` rounds calling each in turn: {name: seconds}."""
    for run in runners.values():
        for _ in range(2):
            run()
    times = {k: [] for k in runners}
    for _ in range(runs):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def print_table(args, frames: int, times: dict, medians: dict, report: dict) -> None:
    """The run's line, the table of medians, minima, ratios to PyTorch and sizes, and int8's PSNR."""
    base = medians[TORCH]
    print(
        f"\n{args.preset}, {args.seconds:g} s clip ({frames} frames), {args.threads} threads, "
        f"{args.runs} alternating runs; load {os.getloadavg()}"
    )
    print("| model | median ms | min ms | ratio to PyTorch | size MB |\n|---|---|---|---|---|")
    for name, values in times.items():
        q = name.split()[1] if name.startswith("TFLite") else None
        size = f"{report['tflite'][q]['size_bytes'] / 1e6:.2f}" if q else "-"
        print(
            f"| {name} | {1000 * medians[name]:.1f} | {1000 * min(values):.1f} | "
            f"{medians[name] / base:.2f} | {size} |"
        )
    int8 = report["tflite"]["int8"]
    print(
        f"\nint8 vs fp32 (export checks): {json.dumps({k: v for k, v in int8.items() if 'psnr' in k})}"
    )


def main(argv=None) -> dict:
    args = parse_args(argv)
    set_threads(args.threads)
    from s2f_tf.config import preset
    from s2f_tf.serving.checks import check_clips

    config = preset(args.preset)
    rate = config.audio.sample_rate
    clip = check_clips(rate, (int(args.seconds * rate),), seed=0)[0][None].astype("float32")
    runners, report = tflite_runners(config, clip, args.threads)
    features, runners[TORCH] = torch_runner(config, clip)
    times = time_alternately(runners, args.runs)
    medians = {k: statistics.median(v) for k, v in times.items()}
    print_table(args, features.shape[1], times, medians, report)
    base = medians[TORCH]
    summary = {
        "medians_ms": {k: round(1000 * v, 2) for k, v in medians.items()},
        "ratios": {k: round(v / base, 3) for k, v in medians.items()},
        "sizes_bytes": {q: report["tflite"][q]["size_bytes"] for q in ("fp32", "int8")},
        "int8_report": report["tflite"]["int8"],
        "loadavg": os.getloadavg(),
    }
    print(json.dumps(summary, default=str))
    return summary


if __name__ == "__main__":
    main()
