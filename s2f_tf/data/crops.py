"""Training crops cut from the waveform instead of from the whole utterance's features.

The front end normalises every utterance by its own per-band mean and variance over time (SPEC step 7),
so a training crop of T frames would need the log-mel of the whole utterance (VoxCeleb's utterances are
~1.5x wen2019's longest crop). `s2f prepare` stores those moments in every voice record, so a crop only
needs the samples its frames read: `crop_window` cuts them, and either the pipeline featurises them
(`crop_features`, `train.features_on = "pipeline"`) or the crop travels as int16 samples and the training
step featurises the whole batch on the accelerator (`LogMelSpectrogram.crop_features`, `"device"`). Both
give the same numbers as cropping the whole-utterance features (tests/test_pipeline.py, ≤ 1e-4).

A frame i reads samples [i * step, i * step + frame_length) and, for pre-emphasis, the last raw sample of
frame i - 1 (SPEC step 4). A crop [start, start + T) therefore starts one frame early (frame
max(start - 1, 0), dropped after featurising) and reads up to the end of frame start + T - 1, or to the
end of the utterance, where the last frames' cyclic fill sees the same available samples as in the whole
utterance.
"""

from __future__ import annotations

import tensorflow as tf

from s2f_tf.config import AudioConfig
from s2f_tf.frontend import standardize


def waveform(samples):
    """int16 [N] -> float32 [1, N] in [-1, 1) (the front end scales back to int16 values)."""
    return tf.cast(samples, tf.float32)[None, :] / 32768.0


def padded_crop_samples(audio: AudioConfig, length):
    """Samples of a padded crop slice of `length` frames (one extra frame in front)."""
    return length * audio.frame_step + audio.frame_length


def crop_window(audio: AudioConfig, samples, start, length):
    """The samples a crop of frames [start, start + length) reads: (slice int16 [n], skip 0 or 1).

    The utterance must have at least start + length frames.
    """
    step = audio.frame_step
    first = tf.maximum(start - 1, 0)  # one frame early: its last sample feeds the pre-emphasis
    end = tf.minimum(tf.size(samples), (start + length - 1) * step + audio.frame_length)
    return samples[first * step : end], start - first


def crop_features(raw_frontend, samples, start, length, mean, variance):
    """Normalised features [length, bands] of frames [start, start + length) of the utterance `samples`.

    Args:
        raw_frontend: a `LogMelSpectrogram(audio, normalize=False)`.
        samples: int16 [N]; the utterance must have at least start + length frames.
        mean, variance: the utterance's moments, [1, bands] (as `s2f prepare` stores them).
    """
    piece, skip = crop_window(raw_frontend.audio, samples, start, length)
    features = raw_frontend(waveform(piece))[0]
    return standardize(features[skip : skip + length], mean, variance)


def device_crop(audio: AudioConfig, samples, start, length, mean, variance) -> dict:
    """A crop as the device featurises it: the padded int16 slice and what it needs to featurise it.

    Keys: "voice_wave" int16 [P] (P = `padded_crop_samples(length)`), "voice_samples" (valid samples),
    "voice_skip", "voice_mean" and "voice_variance" [bands]; see `LogMelSpectrogram.crop_features`.
    """
    piece, skip = crop_window(audio, samples, start, length)
    size = padded_crop_samples(audio, length)
    return {
        "voice_wave": tf.pad(piece, [[0, size - tf.size(piece)]]),
        "voice_samples": tf.size(piece),
        "voice_skip": skip,
        "voice_mean": mean,
        "voice_variance": variance,
    }


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
