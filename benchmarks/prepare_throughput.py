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


def main():
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
    args = parser.parse_args()

    import tensorflow  # noqa: F401 - imported up front so no step is charged for it

    from s2f_tf.data.prepare import PrepareOptions, prepare
    from s2f_tf.synth.corpus import generate

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.corpus:
            root = Path(args.corpus)
        else:
            root = tmp / "corpus"
            cpu = _cpu_seconds()
            s = generate(root, args.identities, args.utterances, args.faces, seed=0)
            cpu = round(_cpu_seconds() - cpu, 1)
            rows.append(
                (
                    "synth",
                    s["workers"],
                    s["utterances"],
                    s["elapsed_s"],
                    cpu,
                    "",
                    s["audio_seconds"],
                )
            )
        for workers in args.workers:
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
        rows.append(
            ("prepare (rerun, all shards reused)", workers, 0, resumed["elapsed_s"], "", "")
        )

        pipeline_line = None
        if args.batches:
            from s2f_tf.config import preset
            from s2f_tf.data.pipeline import train_dataset

            config = preset(args.preset)
            batch = config.train.batch_size
            it = iter(train_dataset(out, config, batch, seed=0))
            next(it)  # build and warm up
            start = time.perf_counter()
            for _ in range(args.batches):
                next(it)
            elapsed = time.perf_counter() - start
            pipeline_line = (
                f"train_dataset({args.preset}, batch {batch}): "
                f"{args.batches / elapsed:.1f} batches/s ({args.batches * batch / elapsed:.0f} "
                "voice crops + faces per s)"
            )

    print(
        "| step | workers | utterances | wall s | CPU s | utterances/s "
        "| audio s (synth) / speech s (prepare) |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")
    if pipeline_line:
        print()
        print(pipeline_line)


if __name__ == "__main__":
    main()
