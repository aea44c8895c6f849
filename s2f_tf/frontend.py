"""The one audio front end: waveform -> normalised 64-band log-mel, in TensorFlow ops.

Training, evaluation, the SavedModel and the TFLite models all call this layer, so the features a deployed
model sees are the features it was trained on. It reproduces steps 2-7 of docs/recipe.md, including the
reference's two quirks: a frame that runs past the end is filled by repeating its own samples cyclically,
and pre-emphasis carries the *previous frame's last raw sample*, not the sample before the frame.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from s2f_tf.config import AudioConfig

DFTS = ("fft", "matmul")  # how LogMelSpectrogram computes the power spectrum


def hertz_to_mel(hertz):
    """HTK mel scale, as the reference."""
    return 2595.0 * np.log10(1.0 + np.asarray(hertz, np.float64) / 700.0)


def mel_to_hertz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank(audio: AudioConfig = AudioConfig()) -> np.ndarray:
    """Triangular, area-normalised filters `[fft_bins, mel_bins]` with edges rounded to FFT bins.

    Edges are `num_mel_bins + 2` points evenly spaced in HTK mel between the band limits, rounded to the
    nearest FFT bin; each triangle peaks at 2 / ((right - left) * bin_hz), rising linearly from its left
    edge to its centre and falling to its right edge.
    """
    bin_hz = audio.sample_rate / audio.fft_length
    mel_edges = np.linspace(
        hertz_to_mel(audio.lower_edge_hertz),
        hertz_to_mel(audio.upper_edge_hertz),
        audio.num_mel_bins + 2,
    )
    bins = np.round(mel_to_hertz(mel_edges) / bin_hz).astype(np.int64)
    filters = np.zeros((audio.num_fft_bins, audio.num_mel_bins), np.float64)
    for m in range(audio.num_mel_bins):
        left, center, right = bins[m], bins[m + 1], bins[m + 2]
        height = 2.0 / ((right - left) * bin_hz)
        if center > left:
            k = np.arange(left, center)
            filters[k, m] = height * (k - left) / (center - left)
        if right > center:
            k = np.arange(center, right)
            filters[k, m] = height * (right - k) / (right - center)
        filters[center, m] = height
    return filters


def dft_matrices(audio: AudioConfig = AudioConfig()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The constants of `LogMelSpectrogram(dft="matmul")`, in float64: (cosines, sines, filters).

    The Hamming window is symmetric about c = (L - 1) / 2, so the DFT (length N) at bin k of the windowed,
    pre-emphasised frame u is e^{-i t k c} (A_k - i B_k) with t = 2 pi / N, and for n < L / 2:
    A_k = sum_n w_n (u_n + u_{L-1-n}) cos(t k (n - c)) and B_k = sum_n w_n (u_n - u_{L-1-n}) sin(t k (n - c)),
    so |X_k|^2 = A_k^2 + B_k^2: two `[L / 2, bins]` matrices (`cosines`, `sines`, the window inside),
    half the products of a full DFT matrix. Only the bins where some mel filter is non-zero are kept
    (2..460 of 513 for the reference); `filters` are the filterbank's rows for them.
    """
    if audio.frame_length % 2:
        raise ValueError(f'dft="matmul" needs an even frame_length, not {audio.frame_length}')
    filters = mel_filterbank(audio)
    used = np.nonzero(filters.any(axis=1))[0]
    bins = np.arange(used.min(), used.max() + 1)
    half = audio.frame_length // 2
    n = np.arange(half)[:, None]
    angle = 2.0 * np.pi * bins[None, :] * (n - (audio.frame_length - 1) / 2) / audio.fft_length
    window = np.hamming(audio.frame_length)[:half, None]
    return window * np.cos(angle), window * np.sin(angle), filters[bins]


def standardize(features, mean, variance):
    """(features - mean) / (std + float32 eps): the per-utterance normalisation of docs/recipe.md, front-end step 7."""
    return (features - mean) / (tf.sqrt(variance) + np.finfo(np.float32).eps)


@keras.saving.register_keras_serializable(package="s2f_tf")
class LogMelSpectrogram(keras.layers.Layer):
    """Waveform `[batch, samples]` (float32, 16 kHz, [-1, 1]) -> features `[batch, frames, 64]`.

    `frames = floor(samples / 160) + 1`. Samples are scaled to the int16 range inside the layer (the
    reference works on int16 values). Every example in a batch has the same length; an input shorter than
    one frame, or empty, gives finite features. Converts to TFLite with builtin ops only (RFFT2D,
    REAL, IMAG, GATHER, ...).

    Args:
        audio: an `AudioConfig`, or a dict of its fields (as `get_config` returns).
        normalize: subtract the per-bin mean over time and divide by (std + float32 eps) per example.
        dft: how the power spectrum is computed, with the same numbers up to float32 rounding:
            "fft" (default): window, `rfft` of `fft_length`, re^2 + im^2; "matmul": the bins the mel
            filters use, as two matrix products of the frame's symmetric and antisymmetric halves (see
            `dft_matrices`; even `frame_length`). More FLOPs than an FFT, but FULLY_CONNECTED ops that
            LiteRT's XNNPACK runs on every thread, where the TFLite FFT (RFFT2D) is a single-threaded
            builtin: the fp32 TFLite file uses it.

    Example:
    >>> layer = LogMelSpectrogram()
    >>> layer(tf.zeros([2, 16000])).shape
    TensorShape([2, 101, 64])
    """

    def __init__(
        self,
        audio: AudioConfig | dict | None = None,
        normalize: bool = True,
        dft: str = "fft",
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")  # the front end stays float32 under mixed precision.
        super().__init__(**kwargs)
        if isinstance(audio, dict):
            audio = AudioConfig(**audio)

        # === Config ===
        self.audio = audio or AudioConfig()
        self.normalize = normalize
        if dft not in DFTS:
            raise ValueError(f"dft={dft!r}: choose from {DFTS}")
        self.dft = dft

        # === Constants ===
        a = self.audio
        self._filters = tf.constant(mel_filterbank(a), tf.float32)
        self._window = tf.constant(np.hamming(a.frame_length), tf.float32)
        self._offsets = tf.range(a.frame_length, dtype=tf.int32)
        if dft == "matmul":
            cosines, sines, filters = dft_matrices(a)
            self._cosines = tf.constant(cosines, tf.float32)
            self._sines = tf.constant(sines, tf.float32)
            self._used_filters = tf.constant(filters, tf.float32)

    def num_frames(self, num_samples):
        return num_samples // self.audio.frame_step + 1

    def call(self, waveform):
        a = self.audio
        x = tf.cast(waveform, tf.float32) * 32768.0
        num_samples = tf.shape(x)[1]
        num_frames = self.num_frames(num_samples)

        # Frame i covers samples s..s+L-1 (s = i * step). The frames that fit in the signal are plain
        # strided windows. The last few (at most ceil(L / step)) run past the end: such a frame repeats
        # its available samples cyclically, and a frame with none is zero. Only those take a gather with
        # computed indices (on a tiny [tail, L] index); one zero is appended so every index is valid even
        # for an empty input, and masked frames read it.
        complete = tf.maximum((num_samples - a.frame_length) // a.frame_step + 1, 0)
        body = tf.signal.frame(x, a.frame_length, a.frame_step)  # [batch, complete, frame_length]
        starts = tf.range(complete, num_frames, dtype=tf.int32) * a.frame_step
        available = num_samples - starts
        index = starts[:, None] + self._offsets[None, :] % tf.maximum(available, 1)[:, None]
        index = tf.where(available[:, None] > 0, index, num_samples)
        tail = tf.gather(tf.pad(x, [[0, 0], [0, 1]]), index, axis=1)
        features = self._log_mel(tf.concat([body, tail], axis=1))  # frames: [batch, frames, L]
        if self.normalize:
            features = standardize(features, *tf.nn.moments(features, axes=[1], keepdims=True))
        return features

    def crop_features(self, wave, num_samples, skip, length, mean, variance):
        """Normalised features `[batch, length, bands]` of a batch of training crops, each cut from its
        own utterance (`s2f_tf.data.crop_reader`): what `call` gives for the whole utterance,
        cropped. This is the device-side featurisation of `train.features_on = "device"`.

        Args:
            wave: `[batch, P]` samples on the int16 scale (int16, or any dtype holding those values),
                each example's crop slice zero-padded to P >= length * frame_step + frame_length.
            num_samples: `[batch]` int32, the valid samples of each slice (frames past them are filled
                cyclically from the valid samples, as `call` does at the end of an utterance).
            skip: `[batch]` int32, 0 or 1: the slice starts one frame early (its last raw sample feeds
                the first kept frame's pre-emphasis), except at the utterance's start.
            length: frames per crop (scalar).
            mean, variance: `[batch, bands]`, each utterance's moments of the unnormalised log-mel.
        """
        a = self.audio
        x = tf.cast(wave, tf.float32)
        padded = tf.shape(x)[1]
        num_samples = tf.cast(num_samples, tf.int32)
        # Frame j of example b reads its own available samples cyclically (all L of them when it fits;
        # a frame with none reads the appended zero). Only the last K = ceil(L / step) + 1 frames can
        # be short (the slice always holds >= (length - 1) * step samples), so the others are strided
        # views (`tf.signal.frame`) and only those K go through the cyclic gather: ~20x less work.
        steps_per_frame = -(-a.frame_length // a.frame_step)
        head = tf.maximum(length + 1 - (steps_per_frame + 1), 0)
        tail_starts = tf.range(head, length + 1, dtype=tf.int32) * a.frame_step  # [K]
        available = num_samples[:, None] - tail_starts[None, :]  # [batch, K]
        offsets = self._offsets[None, None, :] % tf.maximum(available, 1)[:, :, None]
        index = tf.where(available[:, :, None] > 0, tail_starts[None, :, None] + offsets, padded)
        tail = tf.gather(tf.pad(x, [[0, 0], [0, 1]]), index, batch_dims=1)
        full = tf.signal.frame(x, a.frame_length, a.frame_step)[:, :head]
        frames = tf.concat([full, tail], axis=1)  # [batch, length + 1, L]
        features = self._log_mel(frames)  # [batch, length + 1, bands]
        keep = tf.cast(skip, tf.int32)[:, None] + tf.range(length, dtype=tf.int32)[None, :]
        features = tf.gather(features, keep, batch_dims=1)
        return standardize(
            features,
            tf.cast(mean, tf.float32)[:, None, :],
            tf.cast(variance, tf.float32)[:, None, :],
        )

    def _log_mel(self, frames):
        """Raw frames `[batch, frames, frame_length]` (int16 scale) -> unnormalised log-mel."""
        a = self.audio
        # Pre-emphasis per frame; the first sample's predecessor is the previous frame's last raw sample.
        previous_last = tf.pad(frames[:, :-1, -1:], [[0, 0], [1, 0], [0, 0]])
        previous = tf.concat([previous_last, frames[:, :, :-1]], axis=2)
        frames = frames - a.preemphasis * previous
        if self.dft == "matmul":
            # |X_k|^2 = A_k^2 + B_k^2 from the frame's symmetric and antisymmetric halves (dft_matrices).
            half = a.frame_length // 2
            first, last = frames[..., :half], tf.reverse(frames[..., half:], axis=[-1])
            power = tf.square(tf.matmul(first + last, self._cosines)) + tf.square(
                tf.matmul(first - last, self._sines)
            )
            mel = tf.matmul(power, self._used_filters)
            return tf.math.log(tf.maximum(mel, a.log_floor))
        frames = frames * self._window

        spectrum = tf.signal.rfft(frames, fft_length=[a.fft_length])
        # |X|^2 as re^2 + im^2: no sqrt round trip, and faster than the complex Abs kernel on CPU.
        power = tf.square(tf.math.real(spectrum)) + tf.square(tf.math.imag(spectrum))
        mel = tf.tensordot(power, self._filters, axes=1)
        return tf.math.log(tf.maximum(mel, a.log_floor))

    def compute_output_shape(self, input_shape):
        samples = input_shape[1]
        frames = None if samples is None else self.num_frames(samples)
        return (input_shape[0], frames, self.audio.num_mel_bins)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"audio": vars(self.audio).copy(), "normalize": self.normalize, "dft": self.dft}
        )
        return config
