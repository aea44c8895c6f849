"""Training voice batches of a split, by one of two routes (chosen in `s2f_tf.data.pipeline`).

- `read_crops`: crops read from the shards by byte range (`s2f_tf.data.crop_reader`); the training step
  featurises them ("device"), or tf.data does with the same function (`crops.featurize_batch`).
- `cached_voices`: whole-utterance log-mel features computed in the first epoch and kept; later epochs
  only cut windows (one random length per batch, a start per element, short utterances tiled).
"""

from __future__ import annotations

import tensorflow as tf

from s2f_tf.config import Config
from s2f_tf.data import crops, records
from s2f_tf.data.crop_reader import CropReader
from s2f_tf.data.streams import AUTOTUNE, record_stream
from s2f_tf.errors import S2FError
from s2f_tf.frontend import LogMelSpectrogram

VOICE_SHUFFLE = 512  # serialized utterances (a few hundred kB each at most)


def check_training_voices(info, config: Config, split) -> dict:
    """The split's entry of dataset.json; S2FError if it has no utterance long enough to train on."""
    audio = config.audio
    entry = info.split(split)
    if not entry["voices"]:
        raise S2FError(f"{info.data_dir}: split {split!r} has no utterances")
    frames = entry["voice_frames"]
    if frames[-1] < audio.min_utterance_frames:
        raise S2FError(
            f"{info.data_dir}: no {split} utterance has the {audio.min_utterance_frames} frames the "
            f"{config.name!r} preset needs (longest: {frames[-1]}); use a preset with a smaller "
            "audio.min_utterance_frames or longer recordings"
        )
    return entry


def read_crops(info, config: Config, split, batch_size, input_context, seed, repeat, mode):
    """Crops read from the shards by byte range: the step featurises them ("device"), or tf.data does."""
    audio = config.audio
    if audio.min_utterance_frames < audio.train_max_frames:
        raise S2FError(
            f"crops read from the shards are never tiled: audio.min_utterance_frames "
            f"({audio.min_utterance_frames}) must be >= train_max_frames ({audio.train_max_frames})"
            f" for train.features_on={mode!r}"
            + ("" if mode == "device" else " when the split's features do not fit in memory")
        )
    reader = CropReader(info, split, audio)
    ds = reader.dataset(batch_size, seed=seed, input_context=input_context, repeat=repeat)
    if mode == "device":
        return ds
    raw_frontend = LogMelSpectrogram(audio, normalize=False)
    return ds.map(
        lambda b: {
            "voice": crops.featurize_batch(raw_frontend, b),
            "voice_label": b["voice_label"],
        },
        num_parallel_calls=AUTOTUNE,
        deterministic=True,
    )


def cached_voices(info, config: Config, split, batch_size, input_context, seed, repeat):
    """Whole-utterance features computed once and kept: later epochs only cut windows."""
    audio = config.audio
    files, counts = info.voice_files(split, audio.min_utterance_frames)
    frontend = LogMelSpectrogram(audio)
    lo, hi = audio.train_min_frames, audio.train_max_frames

    def window(index, frames):
        """(length, start): one length per batch, a start per element; shorter utterances are tiled."""
        batch_seed = tf.stack([tf.constant(seed, tf.int64), index // batch_size])
        length = tf.random.stateless_uniform([], batch_seed, lo, hi + 1, tf.int32)
        available = tf.maximum(frames, length)
        element_seed = tf.stack([index, tf.constant(seed + 1, tf.int64)])
        start = tf.random.stateless_uniform([], element_seed, 0, available - length + 1, tf.int32)
        return length, start

    def tile_and_cut(features, length, start):
        frames = tf.shape(features)[0]
        features = tf.tile(
            features, [(length + frames - 1) // frames, 1]
        )  # only if frames < length
        return features[start : start + length]

    ds = record_stream(
        files, input_context=input_context, shuffle=False, seed=seed, buffer=0, repeat=False,
        counts=counts,
    )  # fmt: skip
    ds = ds.map(records.parse_voice, num_parallel_calls=AUTOTUNE)
    ds = ds.map(
        lambda r: {"features": frontend(crops.waveform(r["samples"]))[0], "label": r["label"]},
        num_parallel_calls=AUTOTUNE,
        deterministic=True,
    ).cache()
    ds = ds.shuffle(VOICE_SHUFFLE, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def crop(index, element):
        features = element["features"]
        length, start = window(index, tf.shape(features)[0])
        return {"voice": tile_and_cut(features, length, start), "voice_label": element["label"]}

    ds = ds.enumerate().map(crop, num_parallel_calls=AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True)
