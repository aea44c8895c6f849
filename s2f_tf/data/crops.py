"""Training crops featurised from a slice of the waveform instead of from the whole utterance.

The front end normalises every utterance by its own per-band mean and standard deviation over time (SPEC
step 7), so a training crop of T frames used to need the log-mel of the whole utterance (the demo's
utterances are ~3x its crops, VoxCeleb's ~1.5x wen2019's). Here the moments of every utterance are
computed once when the dataset is built (`UtteranceMoments`), and each crop featurises only the samples
its frames read, standardised with its utterance's moments: the same numbers as cropping the
whole-utterance features (tests/test_pipeline.py checks ≤ 1e-4 at every edge case).

A frame i reads samples [i * step, i * step + frame_length) and, for pre-emphasis, the last raw sample of
frame i - 1 (SPEC step 4). A crop [start, start + T) therefore featurises from frame max(start - 1, 0) and
drops that extra frame; it reads up to the end of frame start + T - 1, or to the end of the utterance, where
the last frames' cyclic fill sees the same available samples as in the whole utterance.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from s2f_tf.config import AudioConfig
from s2f_tf.data import records
from s2f_tf.frontend import LogMelSpectrogram, standardize


def waveform(samples):
    """int16 [N] -> float32 [1, N] in [-1, 1) (the front end scales back to int16 values)."""
    return tf.cast(samples, tf.float32)[None, :] / 32768.0


class UtteranceMoments:
    """Per-utterance, per-band mean and variance over time of the unnormalised log-mel.

    Built eagerly from the voice shards `files` (one pass of the front end over every utterance, in
    parallel); looked up by the records' `utterance` key inside the tf.data graph.

    Example:
    >>> moments = UtteranceMoments(info.files("train", "voices"), AudioConfig())
    >>> mean, variance = moments.lookup(record["utterance"])  # [1, 64] each
    """

    def __init__(self, files, audio: AudioConfig):
        raw = LogMelSpectrogram(audio, normalize=False)

        def moments(record):
            mean, variance = tf.nn.moments(raw(waveform(record["samples"]))[0], axes=[0])
            return record["utterance"], mean, variance

        ds = tf.data.TFRecordDataset(list(files), num_parallel_reads=tf.data.AUTOTUNE)
        ds = ds.map(records.parse_voice, num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.map(moments, num_parallel_calls=tf.data.AUTOTUNE).batch(256)
        keys, means, variances = [], [], []
        for key, mean, variance in ds.as_numpy_iterator():
            keys.extend(key)
            means.append(mean)
            variances.append(variance)
        if len(set(keys)) != len(keys):
            raise ValueError("voice records with the same `utterance` key")
        bands = audio.num_mel_bins
        self.size = len(keys)
        self._means = tf.constant(np.concatenate(means) if means else np.zeros((0, bands), "f4"))
        self._variances = tf.constant(
            np.concatenate(variances) if variances else np.zeros((0, bands), "f4")
        )
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.string), tf.range(self.size, dtype=tf.int64)
            ),
            default_value=-1,
        )

    def lookup(self, utterance):
        """(mean, variance), each [1, bands], of the utterance with this key."""
        index = self._table.lookup(utterance)
        tf.debugging.assert_non_negative(index, "utterance missing from the moments table")
        return self._means[index][None], self._variances[index][None]


def crop_features(raw_frontend, samples, start, length, mean, variance):
    """Normalised features [length, bands] of frames [start, start + length) of the utterance `samples`.

    Args:
        raw_frontend: a `LogMelSpectrogram(audio, normalize=False)`.
        samples: int16 [N]; the utterance must have at least start + length frames.
        mean, variance: the utterance's moments, [1, bands].
    """
    audio = raw_frontend.audio
    step = audio.frame_step
    first = tf.maximum(start - 1, 0)  # one frame early: its last sample feeds the pre-emphasis
    end = tf.minimum(tf.size(samples), (start + length - 1) * step + audio.frame_length)
    features = raw_frontend(waveform(samples[first * step : end]))[0]
    skip = start - first
    return standardize(features[skip : skip + length], mean, variance)
