"""Faces generated for evaluation: whole test utterances -> frozen voice encoder -> generator(s)."""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm import tqdm

from s2f_tf.errors import S2FError
from s2f_tf.evaluate.judges import text_of
from s2f_tf.images import to_uint8


@dataclasses.dataclass
class Generated:
    """Faces generated from utterances: uint8 images, the speakers' labels, genders and utterance ids."""

    images: np.ndarray
    labels: np.ndarray
    genders: np.ndarray
    utterances: list


def generate_faces(source, split, config, encoder, generators, max_utterances=None):
    """{name: Generated} for every generator, from the whole utterances of `split`.

    Each utterance's embedding is l2_normalize(encoder(features, training=False)), computed once and
    shared by all generators; faces are clipped to [-1, 1] and mapped to uint8.
    """
    import tensorflow as tf

    mel = config.audio.num_mel_bins
    embed = tf.function(
        lambda v: tf.math.l2_normalize(tf.cast(encoder(v, training=False), tf.float32), -1),
        input_signature=[tf.TensorSpec([1, None, mel], tf.float32)],
    )
    embeddings, labels, genders, utterances, count = [], [], [], [], {}
    items = source.voices(split, config)
    if hasattr(items, "as_numpy_iterator"):  # a tf.data.Dataset
        items = items.as_numpy_iterator()
    for item in tqdm(items, desc=f"voices ({split})", leave=False):
        label = int(np.asarray(item["voice_label"]).reshape(-1)[0])
        if max_utterances is not None and count.get(label, 0) >= max_utterances:
            continue
        count[label] = count.get(label, 0) + 1
        voice = tf.convert_to_tensor(np.asarray(item["voice"], np.float32).reshape(1, -1, mel))
        embeddings.append(embed(voice).numpy()[0])
        labels.append(label)
        genders.append(text_of(item["gender"]))
        utterances.append(text_of(item.get("utterance", len(utterances))))
    if not embeddings:
        raise S2FError(f"no utterances in the {split!r} split")
    embeddings = np.stack(embeddings)
    out = {}
    for name, generator in generators.items():
        faces = [
            to_uint8(generator(embeddings[i : i + 64], training=False))
            for i in range(0, len(embeddings), 64)
        ]
        out[name] = Generated(
            np.concatenate(faces), np.array(labels), np.array(genders), list(utterances)
        )
    return out


def untrained_generator(config, seed):
    """The baseline: a Generator of the same config with fresh (seeded) initial weights."""
    import keras

    from s2f_tf.models import Generator

    keras.utils.set_random_seed(seed + 1)
    generator = Generator.from_model_config(config.model, name="untrained_generator")
    generator.build((None, config.model.embedding_dim))
    return generator
