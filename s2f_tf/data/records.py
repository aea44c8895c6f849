"""The TFRecord schema of prepared datasets: one `tf.train.Example` per utterance or face image.

Voice example: `audio` (int16 little-endian PCM bytes, VAD'd, 16 kHz), `num_samples`, `label`, `gender`
("m"/"f"), `identity` (the VGGFace1 name), `utterance` (path relative to the voices root), and `mean` /
`variance` (float32 [64]: per-band moments over time of the utterance's unnormalised log-mel, which the
front end's per-utterance normalisation divides by, so a training crop needs no other frames).
Face example: `image` (raw uint8 bytes, height x width x 3), `height`, `width`, `label`, `gender`,
`identity`, `image_id` (path relative to the faces root).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

VOICE_FEATURES = {
    "audio": tf.io.FixedLenFeature([], tf.string),
    "num_samples": tf.io.FixedLenFeature([], tf.int64),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "gender": tf.io.FixedLenFeature([], tf.string),
    "identity": tf.io.FixedLenFeature([], tf.string),
    "utterance": tf.io.FixedLenFeature([], tf.string),
    "mean": tf.io.VarLenFeature(tf.float32),
    "variance": tf.io.VarLenFeature(tf.float32),
}
FACE_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "height": tf.io.FixedLenFeature([], tf.int64),
    "width": tf.io.FixedLenFeature([], tf.int64),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "gender": tf.io.FixedLenFeature([], tf.string),
    "identity": tf.io.FixedLenFeature([], tf.string),
    "image_id": tf.io.FixedLenFeature([], tf.string),
}


def _bytes(value: bytes):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def _floats(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.asarray(values, np.float32)))


def voice_example(
    audio: np.ndarray,
    label: int,
    gender: str,
    identity: str,
    utterance: str,
    mean: np.ndarray,
    variance: np.ndarray,
) -> bytes:
    """Serialised Example for one VAD'd utterance (`audio` int16, mono) and its log-mel moments."""
    pcm = np.asarray(audio, np.int16)
    feature = {
        "mean": _floats(mean),
        "variance": _floats(variance),
        "audio": _bytes(pcm.astype("<i2").tobytes()),
        "num_samples": _int(pcm.size),
        "label": _int(label),
        "gender": _bytes(gender.encode()),
        "identity": _bytes(identity.encode()),
        "utterance": _bytes(utterance.encode()),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def face_example(image: np.ndarray, label: int, gender: str, identity: str, image_id: str) -> bytes:
    """Serialised Example for one face (`image` uint8 [height, width, 3])."""
    pixels = np.ascontiguousarray(image, np.uint8)
    feature = {
        "image": _bytes(pixels.tobytes()),
        "height": _int(pixels.shape[0]),
        "width": _int(pixels.shape[1]),
        "label": _int(label),
        "gender": _bytes(gender.encode()),
        "identity": _bytes(identity.encode()),
        "image_id": _bytes(image_id.encode()),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_voice(serialized):
    """Serialised voice Example -> dict with `samples` int16 [N], `mean` / `variance` float32 [bands]
    and the scalar fields."""
    record = tf.io.parse_single_example(serialized, VOICE_FEATURES)
    record["samples"] = tf.io.decode_raw(record.pop("audio"), tf.int16, little_endian=True)
    for key in ("mean", "variance"):
        record[key] = tf.sparse.to_dense(record[key])
    record["label"] = tf.cast(record["label"], tf.int32)
    return record


def parse_face(serialized, image_size: int):
    """Serialised face Example -> dict with `image` uint8 [size, size, 3] and the scalar fields."""
    record = parse_faces(serialized[None], image_size)
    return {key: value[0] for key, value in record.items()}


def parse_faces(serialized, image_size: int):
    """Serialised face Examples [B] -> dict with `image` uint8 [B, size, size, 3] and the fields [B]."""
    record = tf.io.parse_example(serialized, FACE_FEATURES)
    pixels = tf.io.decode_raw(record.pop("image"), tf.uint8)
    record["image"] = tf.reshape(pixels, [-1, image_size, image_size, 3])
    record["label"] = tf.cast(record["label"], tf.int32)
    return record
