"""Faces generated for evaluation: whole test utterances -> frozen voice encoder -> generator(s).

The utterances are embedded once (`embed_voices`) and every generator renders its faces from the same
embeddings (`render`), one generator at a time, so only one set of generated images is held at once.
Faces are judged at the size of the dataset's real faces: `render(..., size=)` resizes a generator's faces
to it (`resize_faces`) before anything measures them, so models of 64 and 128 px meet the same judges.
With `max_utterances`, at most that many utterances per identity are used: a seeded subset per identity
(`sources.choose`, from the counts `s2f prepare` stores), selected before any utterance is featurised;
for a source without counts, the first ones in its order.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm import tqdm

from s2f_tf.errors import S2FError
from s2f_tf.evaluate.sources import text_of
from s2f_tf.images import to_uint8

VOICE_SALT = 3  # sources.choose salt of the utterance selection


@dataclasses.dataclass
class Generated:
    """Faces generated from utterances: uint8 images, the speakers' labels, genders and utterance ids;
    `native_size`: the side the generator drew them at (the images' own side unless they were resized)."""

    images: np.ndarray
    labels: np.ndarray
    genders: np.ndarray
    utterances: list
    native_size: int | None = None


@dataclasses.dataclass
class Embedded:
    """Utterances embedded by the voice encoder: float32 [N, D] L2-normalised, labels, genders, ids."""

    embeddings: np.ndarray
    labels: np.ndarray
    genders: np.ndarray
    utterances: list


def utterance_selection(source, split, max_utterances, seed):
    """Per label, the utterance occurrences to read (None: all, or the source cannot select)."""
    from s2f_tf.evaluate.sources import accepts, choose

    if not max_utterances or not hasattr(source, "counts") or not accepts(source.voices, "keep"):
        return None
    counts = source.counts(split, "voices")
    return None if counts is None else choose(counts, max_utterances, seed, salt=VOICE_SALT)


def embed_voices(source, split, config, encoder, max_utterances=None, seed=0) -> Embedded:
    """The L2-normalised `encoder(features, training=False)` of the utterances of `split`.

    Args:
        source: the data source (`voices(split, config[, keep])`).
        max_utterances: at most this many per identity (None or 0: all).
        seed: seeds the choice of utterances.
    """
    import tensorflow as tf

    from s2f_tf.models.voice_to_face import voice_embedding

    mel = config.audio.num_mel_bins
    embed = tf.function(
        lambda v: voice_embedding(encoder, v),
        input_signature=[tf.TensorSpec([1, None, mel], tf.float32)],
    )
    keep = utterance_selection(source, split, max_utterances, seed)
    items = (
        source.voices(split, config) if keep is None else source.voices(split, config, keep=keep)
    )
    if hasattr(items, "as_numpy_iterator"):  # a tf.data.Dataset
        items = items.as_numpy_iterator()
    embeddings, labels, genders, utterances, count = [], [], [], [], {}
    for item in tqdm(items, desc=f"voices ({split})", leave=False):
        label = int(np.asarray(item["voice_label"]).reshape(-1)[0])
        if max_utterances and count.get(label, 0) >= max_utterances:
            continue  # a source that cannot select: its first `max_utterances` per identity
        count[label] = count.get(label, 0) + 1
        voice = tf.convert_to_tensor(np.asarray(item["voice"], np.float32).reshape(1, -1, mel))
        embeddings.append(embed(voice).numpy()[0])
        labels.append(label)
        genders.append(text_of(item["gender"]))
        utterances.append(text_of(item.get("utterance", len(utterances))))
    if not embeddings:
        raise S2FError(f"no utterances in the {split!r} split")
    return Embedded(np.stack(embeddings), np.array(labels), np.array(genders), utterances)


def resize_faces(faces, size):
    """Float faces [N, H, W, 3] -> [N, size, size, 3] float32, the one resize of evaluation.

    Smaller: area averaging (each output pixel the mean of the input pixels it covers, an antialiasing
    box filter: 128 -> 64 averages 2 x 2 blocks exactly). Larger: bilinear. The same size: unchanged.
    """
    import tensorflow as tf

    faces = np.asarray(faces, np.float32)
    if faces.shape[1:3] == (size, size):
        return faces
    method = "area" if faces.shape[1] > size or faces.shape[2] > size else "bilinear"
    return tf.image.resize(faces, [size, size], method=method).numpy()


def render(voices: Embedded, generator, batch_size=64, size=None) -> Generated:
    """The generator's faces of embedded utterances: resized to `size` px (`resize_faces`; None: as
    drawn) before they are clipped to [-1, 1] and made uint8."""
    faces, native = [], None
    for i in range(0, len(voices.embeddings), batch_size):
        batch = np.asarray(generator(voices.embeddings[i : i + batch_size], training=False))
        native = int(batch.shape[1])
        faces.append(to_uint8(batch if size is None else resize_faces(batch, size)))
    return Generated(
        np.concatenate(faces), voices.labels, voices.genders, list(voices.utterances), native
    )


def render_split(source, split, config, encoder, generators, max_utterances=None, seed=0):
    """{name: Generated} for every generator, from the utterances of `split` (`embed_voices` once)."""
    voices = embed_voices(source, split, config, encoder, max_utterances, seed)
    return {name: render(voices, generator) for name, generator in generators.items()}


def untrained_generator(config, seed):
    """The baseline: a Generator of the same config with fresh (seeded) initial weights."""
    import keras

    from s2f_tf.models import build_generator

    keras.utils.set_random_seed(seed + 1)
    return build_generator(config, name="untrained_generator")
