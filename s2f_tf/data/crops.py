"""Featurising training crops: a batch's device crops (`s2f_tf.data.crop_reader`) -> normalised log-mel.

`featurize_batch` is what the training step calls with `train.features_on = "device"`, and what tf.data
calls for a split too large to keep its features in memory; `raw_features_fn` is the traced front end
`s2f prepare` computes each utterance's moments with.
"""

from __future__ import annotations

import tensorflow as tf

from s2f_tf.config import AudioConfig


def waveform(samples):
    """int16 [N] -> float32 [1, N] in [-1, 1) (the front end scales back to int16 values)."""
    return tf.cast(samples, tf.float32)[None, :] / 32768.0


def featurize_batch(raw_frontend, batch):
    """Features [B, T, bands] of a batch: its "voice" features, or its device crops featurised."""
    if "voice" in batch:
        return batch["voice"]
    return raw_frontend.crop_features(
        batch["voice_wave"],
        batch["voice_samples"],
        batch["voice_skip"],
        (tf.shape(batch["voice_wave"])[1] - raw_frontend.audio.frame_length)
        // raw_frontend.audio.frame_step,
        batch["voice_mean"],
        batch["voice_variance"],
    )


def raw_features_fn(audio: AudioConfig):
    """A traced function int16 samples [N] -> unnormalised log-mel [frames, bands] (one trace for any
    length: ~3x less CPU per utterance than calling the layer eagerly)."""
    from s2f_tf.frontend import LogMelSpectrogram

    raw = LogMelSpectrogram(audio, normalize=False)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int16)])
    def features(samples):
        return raw(waveform(samples))[0]

    return features
