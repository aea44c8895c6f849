"""Alternating timed rounds: every arm runs once (or `block` times) per round, so that the load of a
shared machine falls on all of them alike; each round's last times go to standard error."""

from __future__ import annotations

import sys
import time


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
