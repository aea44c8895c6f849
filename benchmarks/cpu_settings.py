"""Does anything besides oneDNN make the training step faster on a CPU? Thread pools and XLA, side by side.

    python benchmarks/cpu_settings.py [--preset small] [--batch 32] [--frames 200] [--classes 91]
        [--rounds 3] [--steps 10] [--isa AVX2] [--settings default,inter1,intra1,xla,eigen]

Each setting runs in its own process (TensorFlow reads thread counts and TF_ENABLE_ONEDNN_OPTS once, at
start-up), building the preset's GAN step as `s2f train` does (`build_gan`, float32) on one random batch of
its shapes, timing `--steps` steps after two warm-up steps; each round starts every setting's process in
turn, so load from elsewhere falls on all of them. `--isa` caps oneDNN's instruction set
(`ONEDNN_MAX_CPU_ISA`; `native` for none): on a better CPU, AVX2 stands in for an AVX2-only one.

Settings: `default` is what `s2f train` runs (TensorFlow's own pools: intra-op and inter-op threads = the
cores; oneDNN on, s2f_tf.onednn); `inter1` one inter-op thread; `intra1` one intra-op thread and inter-op
= cores; `xla` the default pools with the step compiled by XLA (`train.jit_compile`); `eigen` oneDNN off
(TensorFlow's Eigen kernels), for scale. Prints the median seconds per step and the ratio to `default`,
the load average, and a JSON summary last.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)

SETTINGS = ("default", "inter1", "intra1", "xla", "eigen")


def child(args) -> float:
    """Median seconds per step of this process's setting."""
    import tensorflow as tf

    cores = os.cpu_count()
    if args.setting == "inter1":
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if args.setting == "intra1":
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(cores)
    from step_cost import batch_for

    from s2f_tf.config import preset
    from s2f_tf.train.builder import build_gan

    config = preset(args.preset).replace(train={"mixed_precision": False})
    gan = build_gan(config, args.classes)
    batch = batch_for(config, args.batch, args.frames, args.classes)
    step = tf.function(lambda b: gan(b, args.batch), jit_compile=args.setting == "xla")
    for _ in range(2):
        step(batch)["loss/d_adversarial"].numpy()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step(batch)["loss/d_adversarial"].numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--classes", type=int, default=91)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--isa", default="AVX2", help="ONEDNN_MAX_CPU_ISA, or native")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setting", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps({"median_s": child(args)}))
        return

    settings = args.settings.split(",")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for name in (
        "TF_ENABLE_ONEDNN_OPTS",
        "S2F_TF_SET_ONEDNN_OPTS",
    ):  # each child decides as s2f does
        env.pop(name, None)
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if args.isa != "native":
        env["ONEDNN_MAX_CPU_ISA"] = args.isa
    times = {s: [] for s in settings}
    for round_ in range(args.rounds):
        for setting in settings:
            argv = [sys.executable, __file__, "--child", "--setting", setting]
            for key in ("preset", "batch", "frames", "classes", "steps"):
                argv += [f"--{key}", str(getattr(args, key))]
            run_env = {**env, "TF_ENABLE_ONEDNN_OPTS": "0"} if setting == "eigen" else env
            done = subprocess.run(argv, env=run_env, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{setting}: failed: {done.stderr.strip().splitlines()[-1:]}")
            times[setting].append(json.loads(done.stdout.strip().splitlines()[-1])["median_s"])
            print(f"round {round_ + 1}: {setting} {times[setting][-1]:.4f} s/step", flush=True)
    medians = {s: statistics.median(v) for s, v in times.items()}
    base = medians.get("default", next(iter(medians.values())))
    print(
        f"\n{args.preset}, batch {args.batch}+{args.batch}, {args.frames} frames, float32,"
        f" {os.cpu_count()} cores, ONEDNN_MAX_CPU_ISA={args.isa}, {args.rounds} rounds x"
        f" {args.steps} steps; load {os.getloadavg()}"
    )
    print("| setting | s/step (median) | / default |\n|---|---|---|")
    for setting, median in medians.items():
        print(f"| {setting} | {median:.4f} | {median / base:.2f} |")
    print(json.dumps({"cpu_settings": {"medians_s": medians, "isa": args.isa}}))


if __name__ == "__main__":
    main()
