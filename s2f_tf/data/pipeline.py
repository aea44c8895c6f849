"""Prepared shards -> tf.data: training streams (unpaired voices and faces) and evaluation sets.

Voice features are computed by `s2f_tf.frontend.LogMelSpectrogram` (the one front end) and normalised per
whole VAD'd utterance, as the reference does. Training crops (`config.train.features_on`, see `features_on`):
- "pipeline", split's features fit `FEATURE_CACHE_BYTES`: computed in the first epoch, kept, only cut later;
- "device": batches carry int16 waveform crops ("voice_wave" [B, samples] plus "voice_samples",
  "voice_skip", "voice_mean", "voice_variance"), read from the shards by byte range
  (`s2f_tf.data.crop_reader`), that the training step featurises on the accelerator
  (`crops.featurize_batch`), normalised with the moments `s2f prepare` stored: the same numbers;
- "pipeline", larger splits: the same crop batches, featurised in tf.data by the same function.
Shards store utterances longest first, so utterances too short for the preset are never read.
Training: one random crop length T in [train_min_frames, train_max_frames] per batch (each element's T is
drawn from a stateless seed keyed by its batch index, so a batch always shares it), utterances shorter than
`min_utterance_frames` dropped.
Evaluation: whole utterances; shorter than `test_frames` -> tiled and cut at `test_frames` (docs/recipe.md, front-end step 8).
Faces: uint8 -> (x - 127.5) / 127.5, random horizontal flip with `flip_probability` when training.

The pieces: `streams` (records of shard files), `voice_batches` (the two crop routes), `face_batches`
(training faces, paired faces, whole face sets); this module picks and joins them.

Under tf.distribute, pass the `tf.distribute.InputContext` and the per-replica batch size: files are sharded
by input pipeline when there are at least as many files as pipelines, else elements are.

Example:
>>> info = load_info("data/prepared")
>>> batch = next(iter(train_dataset("data/prepared", preset("small"), 32, seed=0)))
>>> batch["voice"].shape, batch["face"].shape
(TensorShape([32, 187, 64]), TensorShape([32, 64, 64, 3]))
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from s2f_tf.config import Config
from s2f_tf.data import crops, records
from s2f_tf.data.face_batches import (  # noqa: F401  (collect_faces, load_faces: their old home)
    FACE_SHUFFLE,
    collect_faces,
    load_faces,
    training_faces,
    with_voice_faces,
)
from s2f_tf.data.info import load_info
from s2f_tf.data.streams import AUTOTUNE
from s2f_tf.data.streams import record_stream as _records
from s2f_tf.data.voice_batches import (  # noqa: F401  (VOICE_SHUFFLE: its old home)
    VOICE_SHUFFLE,
    cached_voices,
    check_training_voices,
    read_crops,
)
from s2f_tf.frontend import LogMelSpectrogram
from s2f_tf.models.voice_to_face import tile_to_min_frames

# A training split whose log-mel features take at most this many bytes keeps them in memory after the first
# epoch (the demo's: ~0.3 GB); larger ones (VoxCeleb1: ~30 GB) stream and featurise only each crop.
FEATURE_CACHE_BYTES = 1 << 30


def _seed(seed):
    """A fixed int seed; a fresh random one when `seed` is None."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1))
    return int(seed)


def features_on(config: Config) -> str:
    """Where training crops are featurised: config.train.features_on, "auto" resolved ("device" when
    TensorFlow sees a GPU, else "pipeline")."""
    choice = config.train.features_on
    if choice == "auto":
        choice = "device" if tf.config.list_physical_devices("GPU") else "pipeline"
    return choice


def _features_fit_in_memory(entry, audio, budget=None) -> bool:
    """Whether the whole-utterance log-mel features of the split's utterances long enough to train on
    (from prepare's frame counts) fit the cache."""
    frames = [f for f in entry.get("voice_frames") or [] if f >= audio.min_utterance_frames]
    budget = FEATURE_CACHE_BYTES if budget is None else budget
    return bool(frames) and sum(frames) * audio.num_mel_bins * 4 <= budget


def _training_voices(info, config: Config, split, batch_size, input_context, seed, repeat):
    """Batches of training crops of `split`: read by byte range from the shards (featurised here, or
    left to the step with features on the device), or cut from whole-utterance features kept in
    memory."""
    entry = check_training_voices(info, config, split)
    mode = features_on(config)
    if mode == "pipeline" and _features_fit_in_memory(entry, config.audio):
        return cached_voices(info, config, split, batch_size, input_context, seed, repeat)
    return read_crops(info, config, split, batch_size, input_context, seed, repeat, mode)


def train_dataset(
    data_dir,
    config: Config,
    batch_size: int,
    *,
    split: str = "train",
    input_context: tf.distribute.InputContext | None = None,
    seed: int | None = None,
    repeat: bool = True,
) -> tf.data.Dataset:
    """Unpaired training batches: {"voice" [B, T, 64] float32, "voice_label" [B] int32,
    "face" [B, S, S, 3] float32 in [-1, 1], "face_label" [B] int32}; with features on the device,
    "voice_wave" int16 [B, samples] and its crop fields instead of "voice" (see the module docstring).

    Args:
        data_dir: a directory written by `s2f prepare`.
        config: the Config (audio crop lengths, minimum length, flip probability).
        batch_size: per replica (voices and faces each).
        split: "train" (default) or another split.
        input_context: from `strategy.distribute_datasets_from_function`; shards across input pipelines.
        seed: fixes shuffling, crop lengths/positions and flips; None draws a fresh seed.
        repeat: repeat forever (default) or stop at the end of the shorter stream.
    """
    info = load_info(data_dir)
    seed = _seed(seed)
    voices = _training_voices(info, config, split, batch_size, input_context, seed, repeat)
    faces = training_faces(info, config, split, batch_size, input_context, seed + 7919, repeat)
    ds = tf.data.Dataset.zip(voices, faces).map(lambda v, f: {**v, **f})
    if config.train.pairs_faces:
        ds = with_voice_faces(ds, info, config, split, batch_size, seed + 104729)
    return ds.prefetch(AUTOTUNE)


def eval_voices(data_dir, config: Config, split: str, *, input_context=None) -> tf.data.Dataset:
    """Every utterance of `split` in file order, one at a time, by the test rule of docs/recipe.md:
    {"voice" [1, T, 64] (T >= test_frames), "voice_label" [1] int32, "gender" [1] string ("m"/"f"),
    "identity" [1] string, "utterance" [1] string, "samples" [1, N] int16 (the VAD'd waveform)}.
    """
    info = load_info(data_dir)
    frontend = LogMelSpectrogram(config.audio)
    test_frames = config.audio.test_frames
    ds = _records(
        info.files(split, "voices"),
        input_context=input_context,
        shuffle=False,
        seed=None,
        buffer=0,
        repeat=False,
    )

    def load(serialized):
        record = records.parse_voice(serialized)
        features = frontend(crops.waveform(record["samples"]))[0]
        return {
            "voice": tile_to_min_frames(features[None], test_frames)[0],
            "voice_label": record["label"],
            "gender": record["gender"],
            "identity": record["identity"],
            "utterance": record["utterance"],
            "samples": record["samples"],
        }

    return ds.map(load, num_parallel_calls=AUTOTUNE).batch(1).prefetch(AUTOTUNE)


def voice_dataset(
    data_dir,
    config: Config,
    batch_size: int,
    *,
    split: str = "train",
    training: bool = True,
    input_context: tf.distribute.InputContext | None = None,
    seed: int | None = None,
    repeat: bool | None = None,
) -> tf.data.Dataset:
    """Voices only (pretraining): {"voice", "voice_label"}.

    training=True: shuffled random crops as `train_dataset`, `batch_size` per replica, repeated unless
    repeat=False. training=False: every utterance once, whole, by the test rule of docs/recipe.md, batches of one
    (lengths differ; `batch_size` is not used), repeated only if repeat=True.
    """
    if training:
        info = load_info(data_dir)
        return _training_voices(
            info,
            config,
            split,
            batch_size,
            input_context,
            _seed(seed),
            True if repeat is None else repeat,
        ).prefetch(AUTOTUNE)
    ds = eval_voices(data_dir, config, split, input_context=input_context)
    ds = ds.map(lambda r: {"voice": r["voice"], "voice_label": r["voice_label"]})
    return ds.repeat() if repeat else ds
