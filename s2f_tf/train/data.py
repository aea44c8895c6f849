"""What the GAN driver feeds on: the input pipeline's batches plus the embedding noise."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from s2f_tf.config import Config


def gan_dataset_fn(data_dir, config: Config):
    """`(input_context, start_step) -> dataset` for `train_gan`.

    The N(0, 1) embedding noise (and, with `train.diff_augment`, the augmentations' U[0, 1) draws) is
    drawn here, in the input pipeline, so that the same batch trains identically on any number of
    replicas; the seed moves with the start step so a resumed run does not replay the samples it has
    already seen.
    """
    from s2f_tf.data import pipeline
    from s2f_tf.train import augment

    def dataset_fn(context, start_step=0):
        seed = config.train.seed + 1009 * int(start_step)
        batch_size = context.get_per_replica_batch_size(config.train.batch_size)
        dataset = pipeline.train_dataset(
            data_dir, config, batch_size, input_context=context, seed=seed
        )

        def draws(batch):
            batch = {
                **batch,
                "noise": tf.random.normal([batch_size, config.model.embedding_dim], seed=seed),
            }
            if config.train.augmentations:
                shape = [batch_size, len(augment.STREAMS), augment.PARAMS]
                batch["augment"] = tf.random.uniform(shape, seed=seed + 1)
            return batch

        return dataset.map(draws)

    return dataset_fn


def preview_batch(data_dir, config: Config, count: int = 8) -> dict | None:
    """Held-out utterances of up to `count` training identities with a real face of each.

    Reads utterances and faces only until it has them: nothing here grows with the corpus.
    """
    import tensorflow as tf

    from s2f_tf.data import pipeline, records
    from s2f_tf.data.info import load_info

    info = load_info(data_dir)
    voices = {}
    length = config.audio.test_frames
    for item in pipeline.eval_voices(data_dir, config, "train_heldout"):
        label = int(np.reshape(item["voice_label"], [-1])[0])
        voices.setdefault(label, np.asarray(item["voice"])[0, :length])
        if len(voices) == count:
            break
    faces = {}
    for serialized in tf.data.TFRecordDataset(info.files("train", "faces")):
        record = records.parse_face(serialized, info.image_size)
        label = int(record["label"])
        if label in voices and label not in faces:
            faces[label] = record["image"].numpy()
            if len(faces) == len(voices):
                break
    labels = [label for label in voices if label in faces]
    if not labels:
        return None
    return {
        "voice": np.stack([voices[k] for k in labels]).astype(np.float32),
        "face": np.stack([faces[k] for k in labels]),
    }
