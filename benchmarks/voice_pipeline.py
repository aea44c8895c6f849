"""CPU cost of the training input pipeline per batch: features kept in memory vs streamed crops.

    python benchmarks/voice_pipeline.py --data demo_out/data [--preset small] [--batch 32]
        [--warmup 150] [--batches 100]

Builds `s2f_tf.data.pipeline.train_dataset` twice: as training does (the split's whole-utterance features
kept in memory when they fit `FEATURE_CACHE_BYTES`) and with the cache budget set to 0 (every crop
featurises only the samples it covers). Each is read for --warmup batches (past the first epoch, which
fills the cache), then --batches are timed. Prints wall and process-CPU seconds per batch as a table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a prepared dataset")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=150)
    parser.add_argument("--batches", type=int, default=100)
    args = parser.parse_args(argv)

    from s2f_tf.config import preset
    from s2f_tf.data import pipeline

    config = preset(args.preset)
    budget = pipeline.FEATURE_CACHE_BYTES
    rows = []
    for name, cache in (("features kept in memory", budget), ("streamed crops", 0)):
        pipeline.FEATURE_CACHE_BYTES = cache
        started = time.perf_counter()
        batches = iter(pipeline.train_dataset(args.data, config, args.batch, seed=0))
        for _ in range(args.warmup):
            next(batches)
        warmup = time.perf_counter() - started
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.batches):
            next(batches)
        rows.append(
            (
                name,
                (time.perf_counter() - wall) / args.batches,
                (time.process_time() - cpu) / args.batches,
                warmup,
            )
        )
    pipeline.FEATURE_CACHE_BYTES = budget
    print(f"\n{args.preset}, batch {args.batch}, after {args.warmup} batches, {args.batches} timed")
    print("| voices | wall s/batch | CPU s/batch | build + warm-up s |")
    print("|---|---|---|---|")
    for name, wall, cpu, warmup in rows:
        print(f"| {name} | {wall:.4f} | {cpu:.4f} | {warmup:.1f} |")


if __name__ == "__main__":
    main()
