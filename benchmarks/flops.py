"""FLOPs of one wen2019 GAN step (layer by layer), the TF profiler's count, and this machine's matmul peak.

    python benchmarks/flops.py [--batch 128] [--frames 550] [--classes 924] [--reps 5] [--no-profiler]

Layer-by-layer count (multiply-add = 2 FLOPs): Conv = 2·out_positions·k·Cin·Cout, ConvTranspose =
2·in_positions·k·Cin·Cout, Linear = 2·in·out, per example. A backward pass costs 2x the forward (input and
weight gradients) except that no input gradient is formed for a network's first layer, and frozen weights
get no weight gradient. Two step totals are given:
- "reference": what the PyTorch reference computes: E forward; G forward + backward; f on real and fake
  (two forwards) + backward with weight gradients for the D/C update; f forward on fake + a full backward
  (PyTorch also forms f's unused weight gradients) for the G update.
- "s2f_tf": the same minus f's weight gradients in the G update (the tape asks for G's variables only).
The TF profiler count (`tf.compat.v1.profiler`, float_operation) is taken on the traced s2f_tf step.
Matmul peak: median GFLOP/s of a 4096x4096 @ 4096x4096 tf.matmul in float32 and bfloat16, 2 threads.
Prints tables and a JSON summary last.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)


def voice_layers(frames: int, channels=(256, 384, 576, 864), mel=64, embedding=64):
    """(name, forward FLOPs per example) of the voice encoder at `frames` input frames."""
    rows, width, length = [], mel, frames
    for i, out in enumerate((*channels, embedding)):
        length = (length + 2 - 3) // 2 + 1
        rows.append((f"E conv{i}", 2 * length * 3 * width * out))
        width = out
    return rows


def generator_layers(channels=(1024, 512, 256, 128, 64), embedding=64, image_channels=3):
    rows = [("G deconv0", 2 * 1 * 16 * embedding * channels[0])]
    size = 4
    for i, (width, out) in enumerate(zip(channels, channels[1:], strict=False), start=1):
        rows.append((f"G deconv{i}", 2 * size * size * 16 * width * out))
        size *= 2
    rows.append(("G to_rgb", 2 * size * size * channels[-1] * image_channels))
    return rows


def face_layers(channels=(32, 64, 128, 256, 512), embedding=64, num_classes=924):
    rows = [("f stem", 2 * 64 * 64 * 3 * channels[0])]
    size = 64
    for i, (width, out) in enumerate(zip(channels, channels[1:], strict=False), start=1):
        size //= 2
        rows.append((f"f conv{i}", 2 * size * size * 16 * width * out))
    rows.append(("f conv_out", 2 * 16 * channels[-1] * embedding))
    rows.append(("d + c heads", 2 * embedding * (1 + num_classes)))
    return rows


def backward(rows, weight_grads=True):
    """FLOPs of a backward pass: input gradients (not for the first layer) + weight gradients."""
    total = 0
    for i, (_, forward) in enumerate(rows):
        total += (forward if i > 0 else 0) + (forward if weight_grads else 0)
    return total


def step_flops(batch: int, frames: int, num_classes: int) -> dict:
    """Per-layer and per-phase FLOPs of one GAN step (batch voices + batch faces)."""
    e, g, f = voice_layers(frames), generator_layers(), face_layers(num_classes=num_classes)
    fw = {name: sum(x for _, x in rows) for name, rows in (("E", e), ("G", g), ("f", f))}
    phases = {
        "E forward": fw["E"],
        "G forward": fw["G"],
        "f forward real + fake (D/C)": 2 * fw["f"],
        "f backward real + fake (D/C, weight grads)": 2 * backward(f),
        "f forward fake (G update)": fw["f"],
        "f backward fake (G update, input grads only)": backward(f, weight_grads=False),
        "G backward": backward(g),
    }
    phases = {k: v * batch for k, v in phases.items()}
    s2f = sum(phases.values())
    unused = batch * sum(x for _, x in f)  # f's weight gradients the reference also forms.
    layers = {name: batch * x for name, x in (*e, *g, *f)}
    return {
        "layers_forward": layers,
        "phases": phases,
        "s2f_tf": s2f,
        "reference": s2f + unused,
    }


def profiler_flops(batch: int, frames: int, num_classes: int) -> int:
    """Float operations the TF profiler registers for the traced s2f_tf step (static shapes)."""
    import tensorflow as tf

    from benchmarks.train_step import tf_batch, tf_step_fn

    step, _ = tf_step_fn("fp32", num_classes, batch)
    concrete = step.get_concrete_function(tf_batch(batch, frames, num_classes))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    result = tf.compat.v1.profiler.profile(concrete.graph, options=options)
    return int(result.total_float_ops)


def matmul_peak(dtype: str, n: int = 4096, reps: int = 5) -> float:
    """Median GFLOP/s of an n x n matmul (5 chained per timed call)."""
    import tensorflow as tf

    a = tf.random.normal([n, n], dtype=tf.float32)
    b = tf.random.normal([n, n], dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)

    @tf.function
    def five(x, y):
        total = tf.zeros([], tf.float32)
        for _ in range(5):
            total += tf.cast(tf.reduce_sum(tf.matmul(x, y)[:1, :1]), tf.float32)
            x = x + tf.cast(1e-3, dtype)
        return total

    five(a, b).numpy()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        five(a, b).numpy()
        times.append(time.perf_counter() - start)
    return 5 * 2 * n**3 / statistics.median(times) / 1e9


def main(argv=None) -> dict:
    from benchmarks.rounds import step_parser, tensorflow_threads

    parser = step_parser(__doc__.splitlines()[0], reps=5)
    parser.add_argument("--no-profiler", action="store_true")
    args = parser.parse_args(argv)
    tensorflow_threads(args.threads)

    counts = step_flops(args.batch, args.frames, args.classes)
    print(
        f"FLOPs per step, batch {args.batch}+{args.batch}, {args.frames} frames, {args.classes} ids"
    )
    print("\n| layer | forward GFLOP (whole batch) |\n|---|---|")
    for name, value in counts["layers_forward"].items():
        print(f"| {name} | {value / 1e9:.2f} |")
    print("\n| phase | GFLOP |\n|---|---|")
    for name, value in counts["phases"].items():
        print(f"| {name} | {value / 1e9:.1f} |")
    print(f"| **s2f_tf step** | **{counts['s2f_tf'] / 1e9:.1f}** |")
    print(
        f"| **reference step** (+ f weight grads in the G update) | **{counts['reference'] / 1e9:.1f}** |"
    )
    summary = {
        "step_gflop_s2f_tf": round(counts["s2f_tf"] / 1e9, 1),
        "step_gflop_reference": round(counts["reference"] / 1e9, 1),
    }
    if not args.no_profiler:
        summary["tf_profiler_gflop"] = round(
            profiler_flops(args.batch, args.frames, args.classes) / 1e9, 1
        )
        print(
            f"\nTF profiler float_operation on the traced step: {summary['tf_profiler_gflop']} GFLOP"
        )

    peaks = {d: matmul_peak(d, reps=args.reps) for d in ("float32", "bfloat16")}
    print(f"\n4096^2 matmul, {args.threads} threads; load {os.getloadavg()}")
    print("| dtype | GFLOP/s | step floor (reference FLOPs) s |\n|---|---|---|")
    for d, v in peaks.items():
        print(f"| {d} | {v:.0f} | {counts['reference'] / 1e9 / v:.2f} |")
    summary.update(
        matmul_gflops={d: round(v, 1) for d, v in peaks.items()}, loadavg=os.getloadavg()
    )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
