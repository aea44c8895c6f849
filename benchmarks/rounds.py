"""Alternating timed rounds: every arm runs once (or `block` times) per round, so that the load of a
shared machine falls on all of them alike; each round's last times go to standard error."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)


def step_parser(description: str, reps: int, classes: bool = True) -> argparse.ArgumentParser:
    """The arguments of the wen2019-step benchmarks: --batch, --frames, [--classes], --reps, --threads."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--frames", type=int, default=550)
    if classes:
        parser.add_argument("--classes", type=int, default=924)
    parser.add_argument("--reps", type=int, default=reps)
    parser.add_argument("--threads", type=int, default=2)
    return parser


def tensorflow_threads(threads: int) -> None:
    """`threads` intra-op threads and one inter-op thread (before TensorFlow starts its pools)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def alternate(arms: dict, reps: int, block: int = 1) -> dict[str, list[float]]:
    """{name: wall seconds of each call}: `reps` rounds, each calling every arm `block` times in turn."""
    times = {name: [] for name in arms}
    for rep in range(reps):
        for name, run in arms.items():
            for _ in range(block):
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        print(
            f"round {rep + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
            file=sys.stderr,
            flush=True,
        )
    return times
