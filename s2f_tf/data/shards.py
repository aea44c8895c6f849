"""Writing one prepared shard, start to finish, in whichever process `prepare` gives it to.

A worker decodes the shard's files (`decode.process_shard`), computes each utterance's log-mel moments
with the one front end, and writes the TFRecord to a temporary name, then the shard's stats, then renames
the shard into place; it returns only the stats. So `prepare`'s main process never holds decoded data,
and memory stays one shard per worker whatever the corpus size.

Voice records are written longest first and the stats list their frame counts in record order: a
training pipeline that needs at least F frames reads only the first `sum(frames >= F)` records of a shard
and never reads the ones it would drop (`s2f_tf.data.pipeline`). Beside each voice shard, an index
(`<shard>.index.npz`: each record's byte offset of its PCM samples inside the shard file, sample count,
label and moments) lets training read a crop's bytes and nothing else (`s2f_tf.data.crop_reader`).
"""

from __future__ import annotations

import collections
import json
import os
from pathlib import Path

import numpy as np

from s2f_tf.config import AudioConfig
from s2f_tf.data.decode import process_shard
from s2f_tf.files import atomic_write_json


def init_worker() -> None:
    """Process-pool initializer: one TensorFlow thread per worker (the pool is the parallelism)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def finished(out: Path, shard: dict) -> dict | None:
    """The stats of a shard already written completely, else None."""
    final = Path(out) / shard["path"]
    stats = final.with_suffix(".json")
    indexed = shard["kind"] != "voices" or index_path(final).is_file()
    if final.is_file() and stats.is_file() and indexed:
        try:
            return json.loads(stats.read_text())
        except (OSError, ValueError):
            return None
    return None


_RAW_FEATURES = None  # one traced front end per process
RECORD_HEADER, RECORD_FOOTER = (
    12,
    4,
)  # TFRecord framing: uint64 length + its CRC; then the data's CRC


def index_path(shard) -> Path:
    """`voices/train-00000-of-00008.tfrecord` -> `voices/train-00000-of-00008.index.npz`."""
    return Path(shard).with_suffix(".index.npz")


def _pcm_offset(example: bytes, samples) -> int:
    """Where the int16 PCM bytes of `samples` start inside the serialized voice Example."""
    inside = example.find(np.asarray(samples, "<i2").tobytes())  # one field, stored verbatim
    if inside < 0:
        raise RuntimeError("voice record: PCM bytes not found in the serialized Example")
    return inside


def _write_index(path: Path, offsets, records, moments) -> None:
    """Atomically write a voice shard's index (see `index_path`); a shard with no record (every file of
    its identities skipped) gets an empty index of the same shapes."""
    bands = AudioConfig().num_mel_bins
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(
            f,
            offset=np.asarray(offsets, np.int64),
            num_samples=np.asarray([r[0].size for r in records], np.int64),
            label=np.asarray([r[1] for r in records], np.int32),
            mean=np.asarray([m for m, _ in moments], np.float32).reshape(len(records), bands),
            variance=np.asarray([v for _, v in moments], np.float32).reshape(len(records), bands),
        )
    os.replace(tmp, path)


def _moments(records):
    """(mean, variance) float32 [bands] per utterance, over time of its unnormalised log-mel.

    Float64 on the front end's float32 features, so the stored numbers do not depend on thread counts.
    """
    global _RAW_FEATURES
    if _RAW_FEATURES is None:
        from s2f_tf.data.crops import raw_features_fn

        _RAW_FEATURES = raw_features_fn(AudioConfig())
    moments = []
    for samples, *_ in records:
        features = np.asarray(_RAW_FEATURES(samples), np.float64)
        moments.append((features.mean(0).astype(np.float32), features.var(0).astype(np.float32)))
    return moments


def write_shard(
    shard: dict, out: str, voices_root: str, faces_root: str, min_frames: int, image_size: int
) -> dict:
    """Decode, featurise and write one shard atomically; returns its stats (also in `<shard>.json`)."""
    import tensorflow as tf

    from s2f_tf.data import records as schema

    records, skipped, seconds = process_shard(
        shard, voices_root, faces_root, min_frames, image_size
    )
    voices = shard["kind"] == "voices"
    final = Path(out) / shard["path"]
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    if voices:  # longest first (ties by path): readers stop where utterances get too short
        records.sort(key=lambda r: (-r[0].size, r[4]))
        moments = _moments(records)
        encoded = (
            schema.voice_example(data, label, gender, name, relative, mean, variance)
            for (data, label, gender, name, relative), (mean, variance) in zip(
                records, moments, strict=True
            )
        )
    else:
        encoded = (schema.face_example(*record) for record in records)

    offsets, position = [], 0  # voices: where each record's PCM bytes are in the file
    with tf.io.TFRecordWriter(str(tmp)) as writer:
        for i, example in enumerate(encoded):
            writer.write(example)
            if voices:
                offsets.append(position + RECORD_HEADER + _pcm_offset(example, records[i][0]))
                position += RECORD_HEADER + len(example) + RECORD_FOOTER
    if voices:
        _write_index(index_path(final), offsets, records, moments)
    labels = collections.Counter(r[1] for r in records)
    stats = {
        "count": len(records),
        "labels": {str(k): v for k, v in sorted(labels.items())},
        "seconds": seconds,
        "skipped": dict(skipped),
    }
    if voices:  # 10 ms frames of each utterance in record order, as the front end counts them
        audio = AudioConfig()
        stats["frames"] = [audio.num_frames(int(r[0].size)) for r in records]
    atomic_write_json(final.with_suffix(".json"), stats)
    os.replace(tmp, final)
    return stats
