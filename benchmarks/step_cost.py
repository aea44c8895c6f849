"""What each recipe variant costs per training step, side by side in one process.

    python benchmarks/step_cost.py [--variants small small+resize ...] [--presets small hq128 ...]
        [--batch 32] [--frames 200] [--rounds 5] [--steps 5] [--threads 2]

Every variant of `benchmarks/recipe_study.py` (a preset and config overrides) builds its GAN step
(`build_gan`, float32 unless the variant says otherwise) on one random batch of the variant's shapes (voice
features of `--frames` frames, the mean of the small preset's crop lengths; faces; a paired face and the
augmentations' draws when the variant uses them). After two warm-up steps each, `--rounds` rounds run
`--steps` steps of every variant in turn, so load from elsewhere falls on all of them alike. Prints the
median seconds per step, its ratio to the first variant, the load average, and a JSON summary last.
`ONEDNN_MAX_CPU_ISA=AVX2` in the environment times what an AVX2-only CPU's oneDNN kernels would do.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)


def batch_for(config, batch: int, frames: int, classes: int, seed: int = 0) -> dict:
    """A random batch with every key the variant's step reads."""
    import tensorflow as tf

    from s2f_tf.train import augment

    g = tf.random.Generator.from_seed(seed)
    size = config.model.image_size
    data = {
        "voice": g.normal([batch, frames, config.audio.num_mel_bins]),
        "voice_label": g.uniform([batch], 0, classes, dtype=tf.int32),
        "face": g.uniform([batch, size, size, 3], -1.0, 1.0),
        "face_label": g.uniform([batch], 0, classes, dtype=tf.int32),
        "noise": g.normal([batch, config.model.embedding_dim]),
    }
    if config.train.reconstruction_weight:
        data["voice_face"] = g.uniform([batch, size, size, 3], -1.0, 1.0)
        data["voice_face_found"] = tf.ones([batch])
    if config.train.augmentations:
        data["augment"] = g.uniform([batch, len(augment.STREAMS), augment.PARAMS])
    return data


def configs(variants: list[str], presets: list[str], precision: str) -> dict:
    """Row name -> config: recipe_study's variants, then the named presets as they are now."""
    from recipe_study import variant_config

    from s2f_tf.config import preset

    found = {name: variant_config(name, precision) for name in variants}
    for name in presets:
        config = preset(name)
        found[f"preset {name}"] = config.replace(
            train={"mixed_precision": precision == "mixed_bfloat16"}
        )
    return found


def main(argv=None) -> dict:
    from recipe_study import VARIANTS

    from s2f_tf.config import PRESETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--presets", nargs="*", default=[], choices=PRESETS)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--classes", type=int, default=91)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32")
    args = parser.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from s2f_tf.train.builder import build_gan

    rows = configs(args.variants, args.presets, args.precision)
    if not rows:
        parser.error("name at least one of --variants and --presets")
    runners = {}
    for name, config in rows.items():
        gan = build_gan(config, args.classes)
        batch = batch_for(config, args.batch, args.frames, args.classes)
        step = tf.function(lambda b, gan=gan: gan(b, args.batch))
        runners[name] = lambda step=step, batch=batch: step(batch)["loss/d_adversarial"].numpy()
        for _ in range(2):
            runners[name]()
    times = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                run()
            times[name].append((time.perf_counter() - start) / args.steps)
    medians = {k: statistics.median(v) for k, v in times.items()}
    first_name = next(iter(medians))
    first = medians[first_name]
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "native")
    print(
        f"\nbatch {args.batch}+{args.batch}, {args.frames} frames, {args.precision}, {args.threads}"
        f" threads, ONEDNN_MAX_CPU_ISA={isa}, {args.rounds} rounds x {args.steps} steps;"
        f" load {os.getloadavg()}"
    )
    print(f"| variant | s/step | / {first_name} |\n|---|---|---|")
    for name, median in medians.items():
        print(f"| {name} | {median:.4f} | {median / first:.2f} |")
    summary = {
        "medians_s": {k: round(v, 4) for k, v in medians.items()},
        "isa": isa,
        "loadavg": os.getloadavg(),
    }
    print(json.dumps({"step_cost": summary}))
    return summary


if __name__ == "__main__":
    main()
