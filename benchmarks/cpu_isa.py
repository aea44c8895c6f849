"""The training step on the CPU kinds one machine can stand in for: ISA x oneDNN on/off x s2f_tf float32,
s2f_tf mixed_bfloat16 and the PyTorch reference.

    python benchmarks/cpu_isa.py [--preset wen2019] [--batch 128] [--frames 550] [--classes 924]
        [--rounds 2] [--steps 2] [--isas native,AVX512_CORE_BF16,AVX512_CORE,AVX2] [--threads 2]

oneDNN runs on no instruction set above `ONEDNN_MAX_CPU_ISA`, so a Xeon with AMX also times what a CPU with
AVX512-BF16 but no AMX (AMD Zen 4), one with AVX-512 only, or one with AVX2 only (AMD Zen 2/3, Intel
desktop and laptop chips) would do with the same cores and memory. The same variable caps PyTorch's own
oneDNN, and `MKL_ENABLE_INSTRUCTIONS` caps its MKL BLAS. Each (ISA, oneDNN) pair runs in its own process
(both variables are read once, at start-up); each round starts every pair's process in turn, and a process
times `--steps` steps of each arm after one warm-up step, so load from elsewhere falls on all of them.

With oneDNN off, TensorFlow runs its Eigen kernels, which this wheel compiles for AVX whatever the CPU:
one process times them (fp32 and bf16; the bf16 step takes ~100 s, so it runs one step) and stands for
every ISA. Two things the stand-in cannot show: TensorFlow decides by the real CPU's flags (AVX512F) whether
oneDNN gets bf16 ops, so on this Xeon capped at AVX2 it hands them to oneDNN, which refuses ("fails"); a
real AVX2 CPU gives them to Eigen instead (the oneDNN-off bf16 figure). And XNNPack, PyTorch's other
kernels and the memory system stay this machine's.

Prints one table (median seconds per step and the speed-up over PyTorch per cell, the load average) and a
JSON summary last.
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

ARMS = ("fp32", "bf16", "pytorch")
# MKL's instruction-set cap for PyTorch's BLAS, by oneDNN's cap.
MKL = {"AVX2": "AVX2", "AVX512_CORE": "AVX512", "AVX512_CORE_BF16": "AVX512"}
EIGEN = "eigen"  # the oneDNN-off process (TensorFlow's Eigen kernels, the same on every ISA)


def child(args) -> dict:
    """Time each arm of this process: {arm: [seconds, ...] or "fails: ..."}."""
    import tensorflow as tf
    import torch

    from benchmarks.rounds import tensorflow_threads
    from benchmarks.train_step import tf_batch, tf_step_fn

    tensorflow_threads(args.threads)
    torch.set_num_threads(args.threads)
    runners = {}
    if "pytorch" in args.arms:
        from benchmarks.torch_reference import ReferenceGAN, random_batch

        torch.manual_seed(0)
        reference = ReferenceGAN(args.classes)
        torch_batch = random_batch(args.batch, args.frames, args.classes)
        runners["pytorch"] = lambda: reference.step(torch_batch)
    batch = tf_batch(args.batch, args.frames, args.classes)
    for arm in ("fp32", "bf16"):
        if arm in args.arms:
            step, _ = tf_step_fn(arm, args.classes, args.batch, preset=args.preset)
            runners[arm] = lambda s=step: s(batch)["loss/d_adversarial"].numpy()
    times = {}
    for arm, run in runners.items():
        steps = 1 if (arm == "bf16" and args.onednn == "off") else args.steps
        try:
            run()  # warm-up: traces the step
        except tf.errors.OpError as error:  # oneDNN refuses bf16 below AVX512 (see the docstring)
            found = re.search(r"could not [^.,]*", error.message)
            times[arm] = "fails: " + (found.group(0) if found else first_line(error.message))
            continue
        times[arm] = []
        for _ in range(steps):
            start = time.perf_counter()
            run()
            times[arm].append(time.perf_counter() - start)
    return times


def first_line(text: str) -> str:
    return text.strip().splitlines()[-1][:120]


def environment(isa: str, onednn: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "1"}
    for key in ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "S2F_TF_SET_ONEDNN_OPTS"):
        env.pop(key, None)
    if onednn == "off":
        env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    if isa not in ("native", EIGEN):
        env["ONEDNN_MAX_CPU_ISA"] = isa
        env["MKL_ENABLE_INSTRUCTIONS"] = MKL.get(isa, "AVX2")
    return env


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="wen2019")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--frames", type=int, default=550)
    parser.add_argument("--classes", type=int, default=924)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--isas", default="native,AVX512_CORE_BF16,AVX512_CORE,AVX2")
    parser.add_argument("--no-eigen", action="store_true", help="skip the oneDNN-off process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--onednn", default="on", help=argparse.SUPPRESS)
    parser.add_argument("--arms", default=",".join(ARMS), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def processes_for(args) -> list[tuple]:
    """(ISA, oneDNN "on"/"off", arms) of each child process: one per --isas ISA, then the Eigen one."""
    processes = [(isa, "on", ARMS) for isa in args.isas.split(",")]
    if not args.no_eigen:
        processes.append((EIGEN, "off", ("fp32", "bf16")))
    return processes


def run_child(isa: str, onednn: str, arms, forwarded: list[str]) -> dict:
    """Start one child process with its ISA cap and oneDNN setting: its times (see `child`)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", *forwarded, f"--onednn={onednn}",
         f"--arms={','.join(arms)}"],
        env=environment(isa, onednn), capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{isa} oneDNN {onednn}: the child failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_rounds(args, processes: list[tuple]) -> tuple[dict, list[float]]:
    """--rounds rounds, each starting every process in turn: ({(ISA, oneDNN): {arm: [seconds, ...] or
    "fails: ..."}}, the 1-minute load average after each process)."""
    times = {(isa, onednn): {arm: [] for arm in arms} for isa, onednn, arms in processes}
    forwarded = [f"--{k}={getattr(args, k)}" for k in ("preset", "batch", "frames", "classes",
                                                        "threads", "steps")]  # fmt: skip
    loads = []
    for round_ in range(args.rounds):
        for isa, onednn, arms in processes:
            for arm, values in run_child(isa, onednn, arms, forwarded).items():
                cell = times[isa, onednn]
                cell[arm] = values if isinstance(values, str) else cell[arm] + values
            loads.append(os.getloadavg()[0])
            print(f"round {round_ + 1}/{args.rounds}: {isa} oneDNN {onednn} done", file=sys.stderr)
    return times, loads


def median(cell: dict, arm: str):
    """The median of an arm's seconds, or None where it has none (or failed)."""
    values = cell.get(arm)
    return statistics.median(values) if isinstance(values, list) and values else None


def table_row(isa: str, label: str, source: dict, torch_s: float) -> dict:
    """Print the row of `source`'s s2f_tf medians beside PyTorch's (`torch_s`); its summary."""
    row = {arm: median(source, arm) for arm in ("fp32", "bf16")}
    cells = [f"{row[a]:.3f}" if row[a] else str(source.get(a, "-"))[:60] for a in ("fp32", "bf16")]
    ratios = [f"{torch_s / row[a]:.2f}x" if row[a] and torch_s else "-" for a in row]
    print(f"| {isa} | {label} | {' | '.join(cells)} | {torch_s:.3f} | {' | '.join(ratios)} |")
    return {
        **{a: (round(v, 3) if v else source.get(a)) for a, v in row.items()},
        "pytorch": round(torch_s, 3),
        "fp32_speedup": round(torch_s / row["fp32"], 3) if row["fp32"] else None,
    }


def print_table(args, processes: list[tuple], times: dict, loads: list[float]) -> dict:
    """Print the table: a row per ISA with oneDNN on, each followed by the oneDNN-off (Eigen) row
    against that ISA's PyTorch. Returns {"<ISA> oneDNN <on | off (Eigen)>": the row's summary}."""
    eigen = times.get((EIGEN, "off"), {})
    print(
        f"\n{args.preset} GAN step, batch {args.batch}+{args.batch}, {args.frames} frames,"
        f" {args.classes} classes, {args.threads} threads; {args.rounds} rounds x {args.steps} steps"
        f" (bf16 with oneDNN off: 1); load average {min(loads):.2f}-{max(loads):.2f}"
    )
    print("| ONEDNN_MAX_CPU_ISA | oneDNN | s2f_tf fp32 s | bf16 s | PyTorch s | fp32 vs PyTorch |"
          " bf16 vs PyTorch |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for isa, onednn, _ in processes:
        if isa == EIGEN:
            continue
        cell = times[isa, onednn]
        torch_s = median(cell, "pytorch")
        for label, source in (("on", cell), ("off (Eigen)", eigen)):
            if label != "on" and not eigen:
                continue
            summary[f"{isa} oneDNN {label}"] = table_row(isa, label, source, torch_s)
    return summary


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.child:
        args.arms = args.arms.split(",")
        print(json.dumps(child(args)))
        return {}
    processes = processes_for(args)
    times, loads = run_rounds(args, processes)
    summary = print_table(args, processes, times, loads)
    print(json.dumps({"cpu_isa": summary, "loadavg": [min(loads), max(loads)]}))
    return summary


if __name__ == "__main__":
    main()
