"""One GAN training step: the PyTorch reference vs s2f_tf, alternately in one process, same thread count.

    python benchmarks/train_step.py [--variants fp32,bf16] [--threads 2] [--reps 5] [--batch 128]
        [--frames 550] [--classes 924] [--profile DIR]

Each variant is s2f_tf's `build_gan` on the wen2019 preset: `fp32`, `bf16` (train.mixed_precision, i.e.
the "mixed_bfloat16" policy) and a `-xla` suffix for `tf.function(jit_compile=True)` around the step.
Every variant and the reference run one warm-up step, then `--reps` rounds in which each runs one timed
step in turn (so load from other processes hits all of them alike). Prints medians, the speed-up
(reference median / variant median) per variant, and a JSON summary last. `--profile DIR` traces one more
step of each variant with the TensorFlow profiler and prints the ops that took the most time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)


def configure_threads(threads: int, inter_op: int = 1):
    """Same thread count for both frameworks (must run before TensorFlow starts its pools)."""
    import tensorflow as tf
    import torch

    torch.set_num_threads(threads)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op)


def tf_batch(batch: int, frames: int, num_classes: int, seed: int = 0) -> dict:
    """Channels-last tensors with the keys `GANStep` reads."""
    import tensorflow as tf

    g = tf.random.Generator.from_seed(seed)
    return {
        "voice": g.normal([batch, frames, 64]),
        "voice_label": g.uniform([batch], 0, num_classes, dtype=tf.int32),
        "face": g.uniform([batch, 64, 64, 3], -1.0, 1.0),
        "face_label": g.uniform([batch], 0, num_classes, dtype=tf.int32),
        "noise": g.normal([batch, 64]),
    }


def tf_step_fn(variant: str, num_classes: int, batch_size: int, preset: str = "wen2019"):
    """A traced-on-first-call function running one s2f_tf training step of `variant`."""
    import tensorflow as tf

    from s2f_tf.config import preset as get_preset
    from s2f_tf.train.builder import build_gan

    precision, _, xla = variant.partition("-")
    config = get_preset(preset).replace(train={"mixed_precision": precision == "bf16"})
    gan = build_gan(config, num_classes)

    @tf.function(jit_compile=True if xla == "xla" else None)
    def step(batch):
        return gan(batch, batch_size)

    return step, gan


def _layer(name: str) -> str:
    """ "gradient_tape/generator/deconv2/conv_transpose/X:OpType" -> "generator/deconv2 (backward)"."""
    path = name.rsplit(":", 1)[0].split("/")
    backward = path[0] == "gradient_tape"
    path = [p for p in path if p not in ("gradient_tape", "StatefulPartitionedCall")]
    known = ("voice_encoder", "generator", "face_embedder", "discriminator", "classifier")
    for i, part in enumerate(path):
        if part.split("_1")[0] in known:
            layer = "/".join(path[i : i + 2])
            break
    else:
        layer = "optimizer/other" if ":" in name else "(executor)"
    return f"{layer} ({'backward' if backward else 'forward'})" if ":" in name else layer


def top_ops(logdir: Path, limit: int = 15, by=lambda name: name.rsplit(":", 1)[-1]) -> list[dict]:
    """Self time per TensorFlow op type (summed over the host's op events) from the newest trace.

    `by` maps an event name ("<op name>:<OpType>" for executor ops) to the row it is added to.
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = max(logdir.rglob("*.xplane.pb"), key=lambda p: p.stat().st_mtime)
    space = xplane_pb2.XSpace()
    space.ParseFromString(path.read_bytes())
    totals: dict[str, float] = {}
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if line.name == "python":
                continue
            # Self time: an event's duration minus that of the events nested inside it.
            stack: list[list] = []  # [end_ps, kind, self_ps]
            for event in sorted(line.events, key=lambda e: e.offset_ps):
                while stack and stack[-1][0] <= event.offset_ps:
                    _, kind, own = stack.pop()
                    totals[kind] = totals.get(kind, 0.0) + own * 1e-12
                if stack:
                    stack[-1][2] -= event.duration_ps
                name = names.get(event.metadata_id, "?")
                if name.startswith("ThreadpoolListener"):
                    continue
                kind = by(name)
                stack.append([event.offset_ps + event.duration_ps, kind, event.duration_ps])
            for _, kind, own in stack:
                totals[kind] = totals.get(kind, 0.0) + own * 1e-12
    total = sum(totals.values()) or 1.0
    rows = sorted(totals.items(), key=lambda kv: -kv[1])[:limit]
    return [{"op": k, "seconds": round(v, 3), "share": round(v / total, 3)} for k, v in rows]


def compare_bf16(data_dir: Path, steps: int, preset: str = "small", batches: int = 8) -> dict:
    """Train float32 and mixed_bfloat16 GANs from the same initial weights on the same cycled in-memory
    batches (taken from the prepared data's pipeline) and compare their loss curves."""
    import keras
    import numpy as np
    import tensorflow as tf

    from s2f_tf.config import preset as get_preset
    from s2f_tf.data.info import load_info
    from s2f_tf.data.pipeline import train_dataset
    from s2f_tf.train.builder import build_gan

    config = get_preset(preset)
    classes = len(load_info(data_dir).names("train"))
    data = iter(train_dataset(data_dir, config, config.train.batch_size, seed=0))
    memory = [next(data) for _ in range(batches)]
    shape = [steps, config.train.batch_size, 64]
    noises = {
        "fp32": tf.random.stateless_normal(shape, seed=[1, 2]),
        "bf16": tf.random.stateless_normal(shape, seed=[1, 2]),
        # The noise floor: float32 again with other embedding noise draws.
        "fp32 other noise": tf.random.stateless_normal(shape, seed=[3, 4]),
    }
    curves = {}
    for arm, noise in noises.items():
        precision = arm.split()[0]
        keras.utils.set_random_seed(0)
        gan = build_gan(config.replace(train={"mixed_precision": precision == "bf16"}), classes)
        step = tf.function(
            lambda b, gan=gan: gan(b, config.train.batch_size), reduce_retracing=True
        )
        history = []
        for i in range(steps):
            out = step({**memory[i % batches], "noise": noise[i]})
            history.append({k: float(v) for k, v in out.items()})
        curves[arm] = history
    keys = sorted(curves["fp32"][0])
    window = max(1, steps // 5)
    starts = range(0, steps, window)
    print(
        f"\n{preset} preset, {steps} steps on {batches} cycled in-memory batches, same initial "
        "weights; window means fp32 / bf16 / fp32 with other noise draws"
    )
    print("| metric | " + " | ".join(f"steps {i}-{i + window - 1}" for i in starts) + " |")
    print("|---|" + "---|" * len(starts))
    summary = {}
    for key in keys:
        means = {
            arm: np.array([np.mean([h[key] for h in c[i : i + window]]) for i in starts])
            for arm, c in curves.items()
        }
        cells = [" / ".join(f"{means[a][j]:.3f}" for a in curves) for j in range(len(starts))]
        print(f"| {key} | " + " | ".join(cells) + " |")
        summary[key] = {
            "max_window_diff_bf16_vs_fp32": float(np.abs(means["bf16"] - means["fp32"]).max()),
            "max_window_diff_fp32_noise_floor": float(
                np.abs(means["fp32 other noise"] - means["fp32"]).max()
            ),
        }
    print(json.dumps({"compare_bf16": summary}))
    return summary


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="fp32,bf16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--inter-op", type=int, default=1, help="TensorFlow inter-op threads")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--frames", type=int, default=550)
    parser.add_argument("--classes", type=int, default=924)
    parser.add_argument("--no-torch", action="store_true", help="time only the s2f_tf variants")
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument(
        "--compare-bf16",
        type=Path,
        default=None,
        metavar="PREPARED_DIR",
        help="instead: float32 vs mixed_bfloat16 loss curves on the small preset",
    )
    parser.add_argument("--compare-steps", type=int, default=300)
    return parser.parse_args(argv)


def build_runners(args) -> tuple[dict, dict, dict]:
    """({name: one training step}, {variant: its tf.function}, the s2f_tf batch): the PyTorch reference
    (unless --no-torch), then each of --variants."""
    import torch

    from benchmarks.torch_reference import ReferenceGAN, random_batch

    runners = {}
    if not args.no_torch:
        torch.manual_seed(0)
        reference = ReferenceGAN(args.classes)
        torch_batch = random_batch(args.batch, args.frames, args.classes)
        runners["pytorch"] = lambda: reference.step(torch_batch)
    batch = tf_batch(args.batch, args.frames, args.classes)
    steps = {}
    for variant in args.variants.split(","):
        step, _ = tf_step_fn(variant, args.classes, args.batch)
        steps[variant] = step
        runners[variant] = lambda s=step: {k: float(v) for k, v in s(batch).items()}
    return runners, steps, batch


def warm_up(runners: dict) -> None:
    """One untimed step of each runner (traces the tf.functions); its time to standard error."""
    for name, run in runners.items():
        start = time.perf_counter()
        run()
        print(f"warm-up {name}: {time.perf_counter() - start:.2f} s", file=sys.stderr, flush=True)


def print_times(args, times: dict, medians: dict) -> None:
    """The table of step times: median, min, max and the speed-up over the reference where it ran."""
    base = medians.get("pytorch")
    print(
        f"\nbatch {args.batch}+{args.batch}, {args.frames} frames, {args.classes} classes, "
        f"{args.threads} threads, {args.reps} alternating rounds; load: {os.getloadavg()}"
    )
    print("| step | median s | min s | max s | speed-up vs PyTorch |")
    print("|---|---|---|---|---|")
    for name, values in times.items():
        ratio = f"{base / medians[name]:.2f}x" if base else "-"
        print(f"| {name} | {medians[name]:.3f} | {min(values):.3f} | {max(values):.3f} | {ratio} |")


def profile_steps(root: Path, steps: dict, batch: dict) -> dict:
    """Trace one more step of each variant into `root`/<variant>; print and return its top ops and
    layers by self time."""
    import tensorflow as tf

    profiles = {}
    for variant, step in steps.items():
        logdir = root / variant
        tf.profiler.experimental.start(str(logdir))
        step(batch)["loss/d_adversarial"].numpy()
        tf.profiler.experimental.stop()
        profiles[variant] = {"ops": top_ops(logdir), "layers": top_ops(logdir, 20, _layer)}
        for view, rows in profiles[variant].items():
            print(f"\ntop {view}, {variant} (self time of one step, summed over threads)")
            print("| name | s | share |\n|---|---|---|")
            for row in rows:
                print(f"| {row['op']} | {row['seconds']} | {row['share']:.1%} |")
    return profiles


def main(argv=None) -> dict:
    args = parse_args(argv)
    configure_threads(args.threads, args.inter_op)
    if args.compare_bf16 is not None:
        return compare_bf16(args.compare_bf16, args.compare_steps)
    from benchmarks.rounds import alternate

    runners, steps, batch = build_runners(args)
    warm_up(runners)
    times = alternate(runners, args.reps)
    medians = {k: statistics.median(v) for k, v in times.items()}
    base = medians.get("pytorch")
    print_times(args, times, medians)
    profiles = profile_steps(args.profile, steps, batch) if args.profile is not None else {}
    summary = {
        "medians_s": {k: round(v, 3) for k, v in medians.items()},
        "speedup_vs_pytorch": {k: round(base / v, 3) for k, v in medians.items()} if base else {},
        "times_s": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "threads": args.threads,
        "loadavg": os.getloadavg(),
        "profiles": profiles,
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
