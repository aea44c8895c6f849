"""Writing one prepared shard, start to finish, in whichever process `prepare` gives it to.

A worker decodes the shard's files (`decode.process_shard`), computes each utterance's log-mel moments
with the one front end, and writes the TFRecord to a temporary name, then the shard's stats, then renames
the shard into place; it returns only the stats. So `prepare`'s main process never holds decoded data,
and memory stays one shard per worker whatever the corpus size.

Voice records are written longest first and the stats list their frame counts in record order: a
training pipeline that needs at least F frames reads only the first `sum(frames >= F)` records of a shard
and never reads the ones it would drop (`s2f_tf.data.pipeline`).
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
    if final.is_file() and stats.is_file():
        try:
            return json.loads(stats.read_text())
        except (OSError, ValueError):
            return None
    return None


_RAW_FEATURES = None  # one traced front end per process


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
    if voices:  # longest first (ties by path): readers stop where utterances get too short
        records.sort(key=lambda r: (-r[0].size, r[4]))
        encoded = (
            schema.voice_example(data, label, gender, name, relative, mean, variance)
            for (data, label, gender, name, relative), (mean, variance) in zip(
                records, _moments(records), strict=True
            )
        )
    else:
        encoded = (schema.face_example(*record) for record in records)

    final = Path(out) / shard["path"]
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    with tf.io.TFRecordWriter(str(tmp)) as writer:
        for example in encoded:
            writer.write(example)
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
