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
from s2f_tf.data.crop_reader import CropReader
from s2f_tf.data.face_table import FaceTable
from s2f_tf.data.info import load_info
from s2f_tf.errors import S2FError
from s2f_tf.frontend import LogMelSpectrogram
from s2f_tf.images import to_unit_range
from s2f_tf.models.voice_to_face import tile_to_min_frames

AUTOTUNE = tf.data.AUTOTUNE
VOICE_SHUFFLE = 512  # serialized utterances (a few hundred kB each at most)
FACE_SHUFFLE = 4096  # serialized 64x64 faces (12 kB each)
# A training split whose log-mel features take at most this many bytes keeps them in memory after the first
# epoch (the demo's: ~0.3 GB); larger ones (VoxCeleb1: ~30 GB) stream and featurise only each crop.
FEATURE_CACHE_BYTES = 1 << 30


def _seed(seed):
    """A fixed int seed; a fresh random one when `seed` is None."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1))
    return int(seed)


def _records(files, *, input_context, shuffle, seed, buffer, repeat, counts=None):
    """Serialized records of `files` (only the first `counts[i]` of file i when given), sharded by
    input pipeline, shuffled, repeated."""
    if not files:
        raise S2FError("the split has no shards (no identities or no data)")
    counts = [-1] * len(files) if counts is None else counts
    ds = tf.data.Dataset.from_tensor_slices((files, tf.constant(counts, tf.int64)))
    shards, index = 1, 0
    if input_context is not None and input_context.num_input_pipelines > 1:
        shards, index = input_context.num_input_pipelines, input_context.input_pipeline_id
    by_file = shards > 1 and len(files) >= shards
    if by_file:
        ds = ds.shard(shards, index)
    if shuffle and (
        by_file or shards == 1
    ):  # element sharding needs the same file order everywhere
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        lambda path, count: tf.data.TFRecordDataset(path).take(count),
        cycle_length=min(len(files), 8),
        block_length=1,
        num_parallel_calls=AUTOTUNE,
        deterministic=True,
    )
    if shards > 1 and not by_file:
        ds = ds.shard(shards, index)
    if shuffle:
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds


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
    entry = _check_training_voices(info, config, split)
    mode = features_on(config)
    if mode == "pipeline" and _features_fit_in_memory(entry, config.audio):
        return _cached_voices(info, config, split, batch_size, input_context, seed, repeat)
    return _read_crops(info, config, split, batch_size, input_context, seed, repeat, mode)


def _check_training_voices(info, config: Config, split) -> dict:
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


def _read_crops(info, config: Config, split, batch_size, input_context, seed, repeat, mode):
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


def _cached_voices(info, config: Config, split, batch_size, input_context, seed, repeat):
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

    ds = _records(
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


def _training_faces(info, config: Config, split, batch_size, input_context, seed, repeat):
    p = float(config.train.flip_probability)
    size = info.image_size
    ds = _records(
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
    faces = _training_faces(info, config, split, batch_size, input_context, seed + 7919, repeat)
    ds = tf.data.Dataset.zip(voices, faces).map(lambda v, f: {**v, **f})
    if config.train.pairs_faces:
        ds = _with_voice_faces(ds, info, config, split, batch_size, seed + 104729)
    return ds.prefetch(AUTOTUNE)


def _with_voice_faces(ds, info, config: Config, split, batch_size, seed):
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
