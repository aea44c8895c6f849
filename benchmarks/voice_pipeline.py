"""CPU cost of the training input pipeline per batch: features kept in memory, streamed crops, and
waveform crops for the device to featurise.

    python benchmarks/voice_pipeline.py --data demo_out/data [--preset small] [--batch 32]
        [--warmup 150] [--batches 100] [--modes cached,streamed,device]

Builds `s2f_tf.data.pipeline.train_dataset` (voices and faces, no model) three ways: as training does on
a CPU (the split's whole-utterance features kept in memory when they fit `FEATURE_CACHE_BYTES`), with
the cache budget set to 0 (every crop featurises only the samples it covers), and with
`train.features_on="device"` (tf.data only cuts int16 samples; the step featurises). Each is read for
--warmup batches (past the first epoch, which fills the cache), then --batches are timed. Prints wall and
process-CPU seconds per batch as a table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


MODES = {
    "cached": "features kept in memory (pipeline)",
    "streamed": "streamed crops featurised in tf.data (pipeline)",
    "device": "waveform crops for the device (device)",
}


def pipeline_cost(data, preset_name, batch, warmup, batches, modes=tuple(MODES)):
    """[(mode description, wall s/batch, CPU s/batch, build + warm-up s)] of the input pipeline."""
    from s2f_tf.config import preset
    from s2f_tf.data import pipeline
    from s2f_tf.data.info import load_info

    budget = pipeline.FEATURE_CACHE_BYTES
    rows = []
    for mode in modes:
        config = preset(preset_name).replace(
            train={"features_on": "device" if mode == "device" else "pipeline"}
        )
        pipeline.FEATURE_CACHE_BYTES = 0 if mode == "streamed" else budget
        name = MODES[mode]
        if mode == "cached" and not pipeline._features_fit_in_memory(
            load_info(data).split("train"), config.audio
        ):
            name += ": the split does not fit, so streamed"
        started = time.perf_counter()
        iterator = iter(pipeline.train_dataset(data, config, batch, seed=0))
        for _ in range(warmup):
            next(iterator)
        built = time.perf_counter() - started
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(batches):
            next(iterator)
        rows.append(
            (
                name,
                (time.perf_counter() - wall) / batches,
                (time.process_time() - cpu) / batches,
                built,
            )
        )
        del iterator
    pipeline.FEATURE_CACHE_BYTES = budget
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a prepared dataset")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=150)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--modes", default="cached,streamed,device")
    args = parser.parse_args(argv)

    rows = pipeline_cost(
        args.data, args.preset, args.batch, args.warmup, args.batches, args.modes.split(",")
    )
    print(f"\n{args.preset}, batch {args.batch}, after {args.warmup} batches, {args.batches} timed")
    print("| voices | wall s/batch | CPU s/batch | build + warm-up s |")
    print("|---|---|---|---|")
    for name, wall, cpu, warmup in rows:
        print(f"| {name} | {wall:.4f} | {cpu:.4f} | {warmup:.1f} |")


if __name__ == "__main__":
    main()
