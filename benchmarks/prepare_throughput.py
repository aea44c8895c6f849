"""Throughput of `s2f synth` and `s2f prepare` on the default synthetic corpus, and of the training pipeline.

Prints a Markdown table: corpus generation time, prepare time and utterances/s for each worker count (fresh
output each time), the resume time of a finished prepare, and training batches/s from tf.data.

    .venv/bin/python benchmarks/prepare_throughput.py [--identities 48] [--workers 1 2] [--batches 30]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (worker pools)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=48)
    parser.add_argument("--utterances", type=int, default=20)
    parser.add_argument("--faces", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--corpus", help="reuse an existing corpus instead of generating one")
    parser.add_argument("--preset", default="small", help="config for the pipeline measurement")
    parser.add_argument(
        "--batches", type=int, default=30, help="training batches to time (0: skip)"
    )
    return parser.parse_args(argv)


def synth_row(root: Path, args) -> tuple:
    """Generate the corpus of --identities/--utterances/--faces into `root`: its table row."""
    from s2f_tf.synth.corpus import generate

    cpu = _cpu_seconds()
    s = generate(root, args.identities, args.utterances, args.faces, seed=0)
    cpu = round(_cpu_seconds() - cpu, 1)
    return ("synth", s["workers"], s["utterances"], s["elapsed_s"], cpu, "", s["audio_seconds"])


def prepare_rows(root: Path, tmp: Path, worker_counts: list[int]) -> tuple[list, Path]:
    """Prepare the corpus at `root` once per worker count, each into a fresh folder under `tmp`, then
    the last one again (every shard reused): (their table rows, the last prepared folder)."""
    from s2f_tf.data.prepare import PrepareOptions, prepare

    rows = []
    for workers in worker_counts:
        out = tmp / f"prepared-{workers}"
        options = PrepareOptions(
            meta=str(root / "vox1_meta.csv"),
            voices=str(root / "wav"),
            faces=str(root / "faces"),
            out=str(out),
            workers=workers,
        )
        cpu = _cpu_seconds()
        s = prepare(options)
        cpu = round(_cpu_seconds() - cpu, 1)
        utterances = sum(s["utterances"].values()) + sum(s["skipped"]["utterances"].values())
        rows.append(
            (
                "prepare",
                workers,
                utterances,
                s["elapsed_s"],
                cpu,
                round(utterances / s["elapsed_s"], 1),
                round(sum(s["speech_seconds"].values()), 1),
            )
        )
    resumed = prepare(options)
    rows.append(("prepare (rerun, all shards reused)", workers, 0, resumed["elapsed_s"], "", ""))
    return rows, out


def pipeline_line(data: Path, preset_name: str, batches: int) -> str:
    """Training batches/s of `train_dataset` on the prepared `data`, after one warm-up batch."""
    from s2f_tf.config import preset
    from s2f_tf.data.pipeline import train_dataset

    config = preset(preset_name)
    batch = config.train.batch_size
    it = iter(train_dataset(data, config, batch, seed=0))
    next(it)  # build and warm up
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    elapsed = time.perf_counter() - start
    return (
        f"train_dataset({preset_name}, batch {batch}): "
        f"{batches / elapsed:.1f} batches/s ({batches * batch / elapsed:.0f} "
        "voice crops + faces per s)"
    )


def print_table(rows: list, pipeline: str | None) -> None:
    """The Markdown table of `rows`, then the pipeline's line (if it was timed)."""
    print(
        "| step | workers | utterances | wall s | CPU s | utterances/s "
        "| audio s (synth) / speech s (prepare) |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")
    if pipeline:
        print()
        print(pipeline)


def main():
    args = parse_args()

    import tensorflow  # noqa: F401 - imported up front so no step is charged for it

    rows, pipeline = [], None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.corpus:
            root = Path(args.corpus)
        else:
            root = tmp / "corpus"
            rows.append(synth_row(root, args))
        prepared, out = prepare_rows(root, tmp, args.workers)
        rows += prepared
        if args.batches:
            pipeline = pipeline_line(out, args.preset, args.batches)
    print_table(rows, pipeline)


if __name__ == "__main__":
    main()
