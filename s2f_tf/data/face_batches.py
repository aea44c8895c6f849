"""Face batches and face sets of a split: training batches (flipped), each voice's paired real face, and
every face of a split in file order. Faces: uint8 -> (x - 127.5) / 127.5."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from s2f_tf.config import Config
from s2f_tf.data import records
from s2f_tf.data.face_table import FaceTable
from s2f_tf.data.info import load_info
from s2f_tf.data.streams import AUTOTUNE, record_stream
from s2f_tf.images import to_unit_range

FACE_SHUFFLE = 4096  # serialized 64x64 faces (12 kB each)


def training_faces(info, config: Config, split, batch_size, input_context, seed, repeat):
    p = float(config.train.flip_probability)
    size = info.image_size
    ds = record_stream(
        info.files(split, "faces"),
        input_context=input_context,
        shuffle=True,
        seed=seed,
        buffer=FACE_SHUFFLE,
        repeat=repeat,
    )

    def load(batch_number, serialized):
        # A batch at a time: one parse and one decode for all its faces; only the flipped ones are
        # reversed (partition + stitch on the uint8 pixels: a broadcast select costs 3x the rest).
        record = records.parse_faces(serialized, size)
        batch_seed = tf.stack([batch_number, tf.constant(seed, tf.int64)])
        flip = tf.cast(tf.random.stateless_uniform([batch_size], batch_seed) < p, tf.int32)
        kept, flipped = tf.dynamic_partition(record["image"], flip, 2)
        where = tf.dynamic_partition(tf.range(batch_size), flip, 2)
        pixels = tf.dynamic_stitch(where, [kept, tf.reverse(flipped, axis=[2])])
        pixels = tf.ensure_shape(pixels, [batch_size, size, size, 3])
        return {
            "face": to_unit_range(pixels),
            "face_label": record["label"],
        }

    ds = ds.batch(batch_size, drop_remainder=True).enumerate()
    return ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)


def with_voice_faces(ds, info, config: Config, split, batch_size, seed):
    """Each batch gains "voice_face" [B, S, S, 3] in [-1, 1], a real face of each voice's identity
    (flipped like the others), and "voice_face_found" [B] (0 where the identity has no face)."""
    FaceTable.check_size(info, split)
    images, labels, _ = load_faces(info.data_dir, split)
    table = FaceTable(images, labels, len(info.names(split)))
    p = float(config.train.flip_probability)
    size = info.image_size

    def pair(batch_number, batch):
        key = tf.stack([tf.constant(seed, tf.int64), batch_number])
        faces, found = tf.numpy_function(
            table.faces_of, [batch["voice_label"], key], [tf.uint8, tf.float32], stateful=False
        )
        flip = tf.random.stateless_uniform([batch_size], key) < p
        faces = tf.where(flip[:, None, None, None], tf.reverse(faces, axis=[2]), faces)
        faces = tf.ensure_shape(faces, [batch_size, size, size, 3])
        return {
            **batch,
            "voice_face": to_unit_range(faces),
            "voice_face_found": tf.ensure_shape(found, [batch_size]),
        }

    return ds.enumerate().map(pair, num_parallel_calls=AUTOTUNE, deterministic=True)


def load_faces(data_dir, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All faces of `split` in file order: (uint8 [N, S, S, 3], int32 labels [N], genders [N] "m"/"f")."""
    info = load_info(data_dir)
    size = info.image_size
    files = info.files(split, "faces")
    ds = tf.data.TFRecordDataset(files).map(lambda s: records.parse_face(s, size)).batch(4096)
    return collect_faces(ds if files else None, size)


def collect_faces(batches, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uint8 images [N, S, S, 3], int32 labels [N], genders [N]) of a dataset of parsed face batches
    (`records.parse_face`, batched); None gives none."""
    images, labels, genders = [np.zeros((0, size, size, 3), np.uint8)], [], []
    for batch in batches.as_numpy_iterator() if batches is not None else ():
        images.append(batch["image"])
        labels.append(batch["label"])
        genders.extend(g.decode() for g in batch["gender"])
    return (
        np.concatenate(images),
        np.concatenate(labels).astype(np.int32) if labels else np.zeros(0, np.int32),
        np.array(genders, dtype="<U1"),
    )
