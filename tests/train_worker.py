"""A training process for the tests that need one of their own (kill -9 resume, multi-worker).

    python tests/train_worker.py WORKDIR STEPS [--strategy S] [--slow]

Trains the tiny preset on a fixed in-memory dataset with `train_gan` and prints the summary JSON and
then a checksum of the generator weights.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from s2f_tf.config import preset  # noqa: E402
from s2f_tf.train import loop  # noqa: E402
from s2f_tf.train.augment import PARAMS, STREAMS  # noqa: E402
from s2f_tf.train.builder import build_gan  # noqa: E402
from s2f_tf.train.distribute import make_strategy  # noqa: E402

NUM_CLASSES = 5


def toy_batches(count, batch_size, seed=0, image_size=64):
    rng = np.random.default_rng(seed)
    return {
        "voice": rng.standard_normal((count, batch_size, 30, 64)).astype("float32"),
        "voice_label": rng.integers(0, NUM_CLASSES, (count, batch_size)).astype("int32"),
        "face": rng.uniform(-1, 1, (count, batch_size, image_size, image_size, 3)).astype(
            "float32"
        ),
        "face_label": rng.integers(0, NUM_CLASSES, (count, batch_size)).astype("int32"),
        "noise": rng.standard_normal((count, batch_size, 64)).astype("float32"),
    }


def recipe_batches(count, batch_size, seed=0, image_size=64):
    """toy_batches with what the recipe's step also reads: a real face of each voice's identity (none
    for the last identity of every batch) and the DiffAugment draws."""
    batches = toy_batches(count, batch_size, seed=seed, image_size=image_size)
    rng = np.random.default_rng(seed + 1)
    batches["voice_face"] = rng.uniform(-1, 1, batches["face"].shape).astype(np.float32)
    found = np.ones((count, batch_size), np.float32)
    found[:, -1] = 0
    batches["voice_face_found"] = found
    batches["augment"] = rng.uniform(0, 1, (count, batch_size, len(STREAMS), PARAMS)).astype(
        np.float32
    )
    return batches


def toy_dataset_fn(global_batch, slow=False, image_size=64):
    data = toy_batches(16, global_batch, image_size=image_size)

    def dataset_fn(context, start_step=0):
        dataset = tf.data.Dataset.from_tensor_slices(data).repeat().skip(start_step)
        per_replica = context.get_per_replica_batch_size(global_batch)
        # Each global batch is split between the input pipelines in order.
        dataset = dataset.unbatch().batch(per_replica)
        dataset = dataset.shard(context.num_input_pipelines, context.input_pipeline_id)
        if slow:
            dataset = dataset.map(lambda b: tf.py_function(lambda: time.sleep(0.5), [], []) and b)
        return dataset

    return dataset_fn


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir")
    parser.add_argument("steps", type=int)
    parser.add_argument("--strategy", default="one_device")
    parser.add_argument("--slow", action="store_true", help="sleep in the input pipeline")
    args = parser.parse_args()
    config = preset("tiny").replace(train={"checkpoint_every": 1, "batch_size": 4})
    import keras

    keras.utils.set_random_seed(0)
    strategy = make_strategy(args.strategy)
    captured = {}

    def capture(*a, **k):
        captured["gan"] = build_gan(*a, **k)
        return captured["gan"]

    loop.build_gan = capture  # keep a handle on the trained networks for the checksum
    summary = loop.train_gan(
        config,
        args.workdir,
        toy_dataset_fn(config.train.batch_size, args.slow),
        NUM_CLASSES,
        strategy,
        steps=args.steps,
        progress=False,
    )
    print(json.dumps(summary))
    generator = captured["gan"].models.generator
    total = sum(float(np.abs(w.numpy()).sum()) for w in generator.weights)
    print(f"generator_checksum {total:.6f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
