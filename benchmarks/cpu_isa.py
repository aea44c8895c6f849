"""The GAN step in float32 and mixed_bfloat16 on the CPU kinds one machine can stand in for.

    python benchmarks/cpu_isa.py [--preset small] [--batch 32] [--frames 200] [--rounds 3] [--steps 8]
        [--isas native,AVX512_CORE_BF16,AVX512_CORE,AVX2]

oneDNN runs on no instruction set above `ONEDNN_MAX_CPU_ISA`, so a Xeon with AMX also times what a CPU with
AVX512-BF16 but no AMX (AMD Zen 4), one with AVX-512 only, or one with AVX2 only would do with the same
cores (the memory system stays this machine's). Each ISA runs in its own process (the variable is read once,
when oneDNN starts); `--rounds` rounds each start every ISA's process in turn, which times `--steps` steps of
each precision after two warm-up steps, so load from elsewhere falls on all of them alike. Prints the median
seconds per step (or "fails", with oneDNN's message), the bf16 / fp32 ratio per ISA, and a JSON summary
last. What `--precision auto` should pick follows: bf16 only where the ratio is below 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)

PRECISIONS = ("fp32", "bf16")


def child(args) -> dict:
    """Time `args.steps` steps of each precision in this process; {precision: [seconds, ...]}."""
    import tensorflow as tf

    from benchmarks.train_step import configure_threads, tf_batch, tf_step_fn

    configure_threads(args.threads)
    batch = tf_batch(args.batch, args.frames, args.classes)
    times = {}
    for precision in PRECISIONS:
        step, _ = tf_step_fn(precision, args.classes, args.batch, preset=args.preset)
        try:
            for _ in range(2):
                step(batch)["loss/d_adversarial"].numpy()
        except tf.errors.OpError as error:  # AVX2 only: oneDNN has no bf16 convolution there
            found = re.search(r"could not [^.,]*", error.message)
            times[precision] = found.group(0) if found else error.message.strip().splitlines()[-1]
            continue
        times[precision] = []
        for _ in range(args.steps):
            start = time.perf_counter()
            step(batch)["loss/d_adversarial"].numpy()
            times[precision].append(time.perf_counter() - start)
    return times


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--classes", type=int, default=91)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--isas", default="native,AVX512_CORE_BF16,AVX512_CORE,AVX2")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return {}

    isas = args.isas.split(",")
    times = {isa: {p: [] for p in PRECISIONS} for isa in isas}
    forwarded = [f"--{k}={getattr(args, k)}" for k in ("preset", "batch", "frames", "classes",
                                                        "threads", "steps")]  # fmt: skip
    for round_ in range(args.rounds):
        for isa in isas:
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
            env.pop("ONEDNN_MAX_CPU_ISA", None)
            if isa != "native":
                env["ONEDNN_MAX_CPU_ISA"] = isa
            done = subprocess.run(
                [sys.executable, __file__, "--child", *forwarded],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            for precision, values in json.loads(done.stdout.strip().splitlines()[-1]).items():
                if isinstance(values, str):  # the error of a precision this ISA cannot run
                    times[isa][precision] = values
                else:
                    times[isa][precision] += values
            print(f"round {round_ + 1}/{args.rounds}: {isa} done", file=sys.stderr, flush=True)

    print(
        f"\n{args.preset} preset GAN step, batch {args.batch}+{args.batch}, {args.frames} frames, "
        f"{args.threads} threads; {args.rounds} rounds x {args.steps} steps per ISA and precision"
    )
    print("| ONEDNN_MAX_CPU_ISA | fp32 s/step | bf16 s/step | bf16 / fp32 |")
    print("|---|---|---|---|")
    summary = {}
    for isa in isas:
        medians = {
            p: statistics.median(v) if isinstance(v, list) else None for p, v in times[isa].items()
        }
        ratio = medians["bf16"] / medians["fp32"] if None not in medians.values() else None
        summary[isa] = {
            **{p: round(v, 4) if v is not None else times[isa][p] for p, v in medians.items()},
            "bf16_over_fp32": round(ratio, 3) if ratio is not None else None,
        }
        cells = [f"{v:.3f}" if v is not None else "fails" for v in medians.values()]
        print(f"| {isa} | {' | '.join(cells)} | {f'{ratio:.2f}' if ratio else '-'} |")
    failed = {isa: v for isa in isas for p, v in times[isa].items() if isinstance(v, str)}
    for isa, message in failed.items():
        print(f"{isa}: {message}")
    print(json.dumps({"cpu_isa": summary}))
    return summary


if __name__ == "__main__":
    main()
