"""A wen2019 training step fed by the real tf.data pipeline from prepared shards vs on in-memory tensors.

    s2f synth --out /tmp/bench/corpus --identities 24 --utterances 10 --faces 10
    s2f prepare --meta /tmp/bench/corpus/vox1_meta.csv --voices /tmp/bench/corpus/wav \
        --faces /tmp/bench/corpus/faces --out /tmp/bench/prepared
    python benchmarks/input_pipeline.py --data /tmp/bench/prepared [--batch 128] [--frames 550]
        [--reps 4] [--variant fp32]

The wen2019 step of `benchmarks/train_step.py` (same tf.function), with the crop length fixed at --frames
(audio train_min_frames = train_max_frames = min_utterance_frames; the synthetic utterances are shorter
than wen2019's 800-frame minimum) so that both arms run the same shapes. The in-memory arm reuses one batch
taken from the pipeline. The arms alternate in blocks of --block steps (the pipeline's iterator persists,
so its prefetching competes with the step for the 2 cores exactly as in training). Also reports the wall and CPU
seconds the pipeline alone spends per batch. Prints a table and a JSON summary last.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)


def main(argv=None) -> dict:
    from benchmarks.rounds import alternate, step_parser, tensorflow_threads

    parser = step_parser(__doc__.splitlines()[0], reps=4, classes=False)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--block", type=int, default=2)
    parser.add_argument("--variant", default="fp32")
    args = parser.parse_args(argv)
    tensorflow_threads(args.threads)

    import tensorflow as tf

    from benchmarks.train_step import tf_step_fn
    from s2f_tf.config import preset
    from s2f_tf.data.info import load_info
    from s2f_tf.data.pipeline import train_dataset

    info = load_info(args.data)
    classes = len(info.names("train"))
    t = args.frames
    config = preset("wen2019").replace(
        audio={"train_min_frames": t, "train_max_frames": t, "min_utterance_frames": t}
    )
    batches = iter(train_dataset(args.data, config, args.batch, seed=0))
    memory = {k: tf.identity(v) for k, v in next(batches).items()}
    step, _ = tf_step_fn(args.variant, classes, args.batch)

    # The pipeline alone, steady state: a fresh iterator, its first batch untimed, then 5 batches pulled
    # as fast as it delivers them (wall and process CPU seconds per batch, nothing else running).
    alone = iter(train_dataset(args.data, config, args.batch, seed=1))
    next(alone)["voice"].numpy()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(5):
        next(alone)["voice"].numpy()
    delivery = (time.perf_counter() - wall) / 5, (time.process_time() - cpu) / 5
    del alone

    arms = {
        "in-memory tensors": lambda: step(memory),
        "tf.data pipeline": lambda: step(next(batches)),
    }
    for run in arms.values():
        float(run()["loss/d_adversarial"])  # warm-up (traces once)
    timed = {
        name: (lambda run=run: float(run()["loss/d_adversarial"])) for name, run in arms.items()
    }
    times = alternate(timed, args.reps, block=args.block)
    medians = {k: statistics.median(v) for k, v in times.items()}
    overhead = medians["tf.data pipeline"] / medians["in-memory tensors"] - 1
    print(
        f"\n{args.variant} wen2019 step, batch {args.batch}+{args.batch}, {t} frames, {classes} ids, "
        f"{args.reps} rounds x {args.block} steps per arm; load {os.getloadavg()}"
    )
    print("| input | median s | min s | max s |\n|---|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {medians[name]:.3f} | {min(values):.3f} | {max(values):.3f} |")
    print(f"\npipeline overhead: {overhead:+.1%} (target within 5 %)")
    print(
        f"pipeline alone: {delivery[0]:.3f} s wall, {delivery[1]:.3f} s CPU per batch "
        "(mean of 5, steady state)"
    )
    summary = {
        "medians_s": {k: round(v, 3) for k, v in medians.items()},
        "overhead": round(overhead, 4),
        "pipeline_alone_wall_cpu_s_per_batch": [round(x, 3) for x in delivery],
        "loadavg": os.getloadavg(),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
