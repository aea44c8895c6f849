"""Training crops read straight from the voice shards: the bytes a crop covers and nothing else.

The front end normalises every utterance by its own per-band mean and variance over time (docs/recipe.md, front-end step 7),
so a training crop of T frames would need the log-mel of the whole utterance; `s2f prepare` stores those
moments, and beside each voice shard an index (`s2f_tf.data.shards.index_path`) of where each record's
int16 samples lie in the file. A batch is then planned in one go (one crop length per batch, a start per
utterance) and each crop's byte range is read from the shard with one `preadv` into the batch array: no
record is parsed, no utterance decoded whole, and utterances too short for the preset are not indexed.
A VoxCeleb1 record averages ~8 s; a `wen2019` crop 5.5 s: reading records whole touched twice the bytes,
each several times (tf.data read, CRC, parse, decode), which was most of the input pipeline's CPU.

A crop of frames [start, start + T) reads from the start of frame start - 1 (its last raw sample feeds
the first frame's pre-emphasis, docs/recipe.md, front-end step 4; frame 0 has none) to the end of frame start + T - 1, or to
the end of the utterance, where the front end fills the last frames cyclically from the samples there are.
`LogMelSpectrogram.crop_features` featurises such a batch: on the accelerator (`train.features_on =
"device"`) or in tf.data ("pipeline" for a split whose features do not fit in memory). Both give what
featurising the whole utterance and cropping gives (tests/test_crop_reader.py, <= 1e-4).

Example:
>>> reader = CropReader(load_info("data/prepared"), "train", preset("wen2019").audio)
>>> batch = next(iter(reader.dataset(128, seed=0)))
>>> batch["voice_wave"].shape  # [128, T * 160 + 400] int16 for this batch's crop length T
"""

from __future__ import annotations

import os
import threading
import zipfile

import numpy as np
import tensorflow as tf

from s2f_tf.config import AudioConfig
from s2f_tf.data.shards import index_path
from s2f_tf.errors import S2FError

KEYS = ("voice_wave", "voice_samples", "voice_skip", "voice_mean", "voice_variance", "voice_label")


def _read_index(path, count: int, frames, audio: AudioConfig, num_classes: int) -> dict:
    """The first `count` records of a voice shard's index (longest first: the usable ones), checked
    against the shard and dataset.json: a damaged or edited index would make training read other bytes
    than the utterances' (S2FError, one line)."""
    where = index_path(path)
    try:
        with np.load(where) as index:
            columns = {k: np.asarray(index[k][:count]) for k in ("offset", "num_samples", "label")}
            columns |= {k: np.asarray(index[k][:count], np.float64) for k in ("mean", "variance")}
        size = os.path.getsize(path)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise S2FError(
            f"{where}: unreadable shard index ({error}); run `s2f prepare` again"
        ) from None
    offset, samples, label = columns["offset"], columns["num_samples"], columns["label"]
    bands = (count, audio.num_mel_bins)
    fits = (
        all(len(v) == count for v in columns.values())
        and offset.dtype.kind == samples.dtype.kind == label.dtype.kind == "i"
        and columns["mean"].shape == columns["variance"].shape == bands
        and np.array_equal(audio.num_frames(samples), np.asarray(frames))
        and bool(np.all(offset >= 0) and np.all(offset + 2 * samples <= size))
        and bool(np.all((label >= 0) & (label < num_classes)))
        and bool(np.all(np.isfinite(columns["mean"])) and np.all(columns["variance"] >= 0))
        and bool(np.all(np.isfinite(columns["variance"])))
    )
    if not fits:
        raise S2FError(
            f"{where}: does not match its shard and dataset.json (damaged or edited); run `s2f"
            " prepare` again into a new --out"
        )
    return {
        k: (v.astype(np.float32) if k in ("mean", "variance") else v) for k, v in columns.items()
    }


class CropReader:
    """The utterances of one split that are long enough for training, and their crops.

    Args:
        info: the `DatasetInfo` of a prepared dataset.
        split: which split's voices.
        audio: the preset's `AudioConfig` (frame step and length, crop lengths, minimum utterance length).
    """

    def __init__(self, info, split: str, audio: AudioConfig):
        self.audio = audio
        self.paths, counts = info.voice_files(split, audio.min_utterance_frames)
        entry = info.split(split)
        frames_of = dict(zip(info.files(split, "voices"), entry["voice_shard_frames"], strict=True))
        columns = {"offset": [], "num_samples": [], "label": [], "mean": [], "variance": []}
        file_ids = []
        for file_id, (path, count) in enumerate(zip(self.paths, counts, strict=True)):
            index = _read_index(path, count, frames_of[path][:count], audio, entry["num_classes"])
            for key, values in columns.items():
                values.append(index[key])
            file_ids.append(np.full(count, file_id, np.int32))
        if not file_ids:
            raise S2FError(f"{info.data_dir}: split {split!r} has no utterance long enough")
        for key, values in columns.items():
            setattr(self, key, np.concatenate(values))
        self.file_id = np.concatenate(file_ids)
        self.frames = audio.num_frames(self.num_samples)
        self._files: dict[int, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.offset)

    def __del__(self):
        for fd in getattr(self, "_files", {}).values():
            os.close(fd)

    def _fd(self, file_id: int) -> int:
        fd = self._files.get(file_id)
        if fd is None:
            with self._lock:
                fd = self._files.get(file_id)
                if fd is None:
                    fd = self._files[file_id] = os.open(self.paths[file_id], os.O_RDONLY)
        return fd

    def plan(self, indices, batch_number: int, seed: int) -> tuple[int, np.ndarray]:
        """(crop length T, start frame per utterance) of one batch: T uniform in [train_min_frames,
        train_max_frames], each start uniform over the utterance's frames; stateless in (seed, batch)."""
        a = self.audio
        rng = np.random.default_rng([int(seed), int(batch_number)])
        length = int(rng.integers(a.train_min_frames, a.train_max_frames + 1))
        return length, rng.integers(0, self.frames[indices] - length + 1)

    def crops(self, indices, length: int, starts) -> dict:
        """The crops [start, start + length) of utterances `indices` as the batch arrays of `KEYS`:
        "voice_wave" int16 [B, length * step + frame_length] (each slice zero-padded), "voice_samples"
        and "voice_skip" int32 [B], "voice_mean" / "voice_variance" float32 [B, bands], "voice_label"."""
        a = self.audio
        indices = np.asarray(indices, np.int64)
        starts = np.asarray(starts, np.int64)
        if np.any(starts + length > self.frames[indices]) or np.any(starts < 0):
            raise ValueError("a crop reaches past its utterance")
        first = np.maximum(starts - 1, 0)  # one frame early: its last sample feeds the pre-emphasis
        begin = first * a.frame_step
        end = np.minimum(
            self.num_samples[indices], (starts + length - 1) * a.frame_step + a.frame_length
        )
        wave = np.empty((len(indices), length * a.frame_step + a.frame_length), np.int16)
        for row, (i, b, e) in enumerate(zip(indices, begin, end, strict=True)):
            n = int(e - b)
            target = memoryview(wave[row, :n]).cast("B")
            offset = int(self.offset[i] + 2 * b)
            if os.preadv(self._fd(int(self.file_id[i])), [target], offset) != 2 * n:
                raise S2FError(f"{self.paths[self.file_id[i]]}: shorter than its index says")
            wave[row, n:] = 0
        if not np.little_endian:
            wave.byteswap(inplace=True)  # the shards hold little-endian samples
        return {
            "voice_wave": wave,
            "voice_samples": (end - begin).astype(np.int32),
            "voice_skip": (starts - first).astype(np.int32),
            "voice_mean": self.mean[indices],
            "voice_variance": self.variance[indices],
            "voice_label": self.label[indices],
        }

    def batch(self, indices, batch_number: int, seed: int) -> dict:
        """One training batch of crops of `indices` (see `plan` and `crops`), keys in `KEYS` order."""
        length, starts = self.plan(indices, batch_number, seed)
        return self.crops(indices, length, starts)

    def dataset(
        self, batch_size: int, *, seed: int, input_context=None, repeat: bool = True
    ) -> tf.data.Dataset:
        """Batches of crops (dicts of `KEYS`), every utterance once per epoch in a fresh random order.

        The order is a stateless permutation per epoch (`index_shuffle`: no shuffle buffer to fill,
        whatever the corpus size), computed a batch at a time; under tf.distribute input pipeline p of P
        takes positions p, p + P, ... of it. One tf.data element per batch: nothing runs per utterance.
        """
        n = len(self)
        pipelines, pipeline_id = 1, 0
        if input_context is not None and input_context.num_input_pipelines > 1:
            pipelines, pipeline_id = (
                input_context.num_input_pipelines,
                input_context.input_pipeline_id,
            )
        if repeat:
            ds = tf.data.Dataset.counter()
        else:
            ds = tf.data.Dataset.range(len(range(pipeline_id, n, pipelines)) // batch_size)
        bands = self.mean.shape[1]

        def read(batch_number):
            # Position k of this pipeline's stream is position k * P + p of the global one.
            k = batch_number * batch_size + tf.range(batch_size, dtype=tf.int64)
            position = k * pipelines + pipeline_id
            seeds = tf.stack([tf.fill([batch_size], tf.constant(seed, tf.int64)), position // n,
                              tf.zeros([batch_size], tf.int64)], axis=1)  # fmt: skip
            indices = tf.raw_ops.RandomIndexShuffle(  # one permutation per (seed, epoch)
                index=position % n, seed=seeds, max_index=tf.constant(n - 1, tf.int64)
            )
            out = tf.numpy_function(
                lambda b, i: tuple(self.batch(i, b, seed).values()),  # in the order of KEYS
                [batch_number, indices],
                [tf.int16, tf.int32, tf.int32, tf.float32, tf.float32, tf.int32],
                stateful=False,
            )
            shapes = ([batch_size, None], [batch_size], [batch_size], [batch_size, bands],
                      [batch_size, bands], [batch_size])  # fmt: skip
            for tensor, shape in zip(out, shapes, strict=True):
                tensor.set_shape(shape)
            return dict(zip(KEYS, out, strict=True))

        return ds.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
