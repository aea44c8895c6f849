"""wen2019 GAN step on 1 vs 2 logical CPU replicas (MirroredStrategy), alternately in one process.

    python benchmarks/scaling.py [--batch 128] [--frames 550] [--reps 4] [--variant fp32]

The global batch (--batch voices + --batch faces) is split over the replicas by
`experimental_distribute_dataset`; each replica runs `GANStep` on its share and the gradients are summed
(all-reduced) as in `s2f train`. Both logical devices are views of the same 2 physical cores and one
intra-op thread pool, so this measures the cost of replication rather than added compute. Prints step time,
samples/s and achieved GFLOP/s (layer count of benchmarks/flops.py), and a JSON summary last.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)


def main(argv=None) -> dict:
    from benchmarks.rounds import alternate, step_parser, tensorflow_threads

    parser = step_parser(__doc__.splitlines()[0], reps=4)
    parser.add_argument("--variant", default="fp32")
    args = parser.parse_args(argv)
    tensorflow_threads(args.threads)

    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from benchmarks.flops import step_flops
    from benchmarks.train_step import tf_batch, tf_step_fn

    batch = tf_batch(args.batch, args.frames, args.classes)
    runners = {}
    for replicas in (1, 2):
        strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)])
        with strategy.scope():
            replica_step, _ = tf_step_fn(args.variant, args.classes, args.batch)
        data = tf.data.Dataset.from_tensors(batch).repeat()
        batches = iter(strategy.experimental_distribute_dataset(data))

        @tf.function
        def step(b, strategy=strategy, replica_step=replica_step):
            out = strategy.run(replica_step, args=(b,))
            return strategy.experimental_local_results(out)[0]

        runners[replicas] = lambda step=step, batches=batches: float(
            step(next(batches))["loss/d_adversarial"]
        )

    for run in runners.values():
        run()
    times = alternate(runners, args.reps)
    flops = step_flops(args.batch, args.frames, args.classes)["s2f_tf"]
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"\n{args.variant} wen2019 step, global batch {args.batch}+{args.batch}, {args.frames} frames, "
        f"{args.threads} threads; load {os.getloadavg()}"
    )
    print("| replicas | median s | samples/s | GFLOP/s (s2f_tf count) |\n|---|---|---|---|")
    for replicas, median in medians.items():
        print(
            f"| {replicas} | {median:.3f} | {args.batch / median:.1f} | {flops / median / 1e9:.0f} |"
        )
    summary = {
        "medians_s": {str(k): round(v, 3) for k, v in medians.items()},
        "samples_per_s": {str(k): round(args.batch / v, 2) for k, v in medians.items()},
        "gflops": {str(k): round(flops / v / 1e9, 1) for k, v in medians.items()},
        "loadavg": os.getloadavg(),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
