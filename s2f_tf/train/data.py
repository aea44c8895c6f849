"""What the GAN driver feeds on: the input pipeline's batches plus the embedding noise."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from s2f_tf.config import Config


def gan_dataset_fn(data_dir, config: Config):
    """`(input_context, start_step) -> dataset` for `train_gan`.

    The N(0, 1) embedding noise is drawn here, in the input pipeline, so that the same batch trains
    identically on any number of replicas; the seed moves with the start step so a resumed run does not
    replay the samples it has already seen.
    """
    from s2f_tf.data import pipeline

    def dataset_fn(context, start_step=0):
        seed = config.train.seed + 1009 * int(start_step)
        batch_size = context.get_per_replica_batch_size(config.train.batch_size)
        dataset = pipeline.train_dataset(
            data_dir, config, batch_size, input_context=context, seed=seed
        )
        return dataset.map(
            lambda batch: {
                **batch,
                "noise": tf.random.normal([batch_size, config.model.embedding_dim], seed=seed),
            }
        )

    return dataset_fn


def preview_batch(data_dir, config: Config, count: int = 8) -> dict | None:
    """Held-out utterances of up to `count` training identities with a real face of each."""
    from s2f_tf.data import pipeline

    images, labels, _ = pipeline.load_faces(data_dir, "train")
    voices, faces, seen = [], [], set()
    length = config.audio.test_frames
    for item in pipeline.eval_voices(data_dir, config, "train_heldout"):
        label = int(np.reshape(item["voice_label"], [-1])[0])
        matches = np.flatnonzero(labels == label)
        if label in seen or not len(matches):
            continue
        seen.add(label)
        voices.append(np.asarray(item["voice"])[0, :length])
        faces.append(images[matches[0]])
        if len(seen) == count:
            break
    if not voices:
        return None
    return {"voice": np.stack(voices).astype(np.float32), "face": np.stack(faces)}
