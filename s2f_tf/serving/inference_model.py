"""The waveform -> face computation that every exported artifact contains, written once as Keras layers.

`VoiceToFace` chains the front end (`LogMelSpectrogram`), the test-time tiling of SPEC-wen2019.md step 8
(`TileToMinFrames`), the voice encoder in inference mode, L2 normalisation and the generator, and returns
the generator output both as floats and as a uint8 image. The Keras reference used by the export checks,
the SavedModel and the TFLite files are all traced from this one model.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from s2f_tf.config import AudioConfig, Config
from s2f_tf.frontend import LogMelSpectrogram

OUTPUTS = ("face", "face_float", "embedding")
NON_FINITE = "the waveform contains NaN or infinite samples"
TFLITE_NON_FINITE = "gather index out of bounds"  # how LiteRT reports `refuse_non_finite_tflite`


def refuse_non_finite(waveform, where: str = "serving_default"):
    """`waveform` unchanged, or an InvalidArgumentError naming the problem if a sample is NaN or +-Inf.

    In the SavedModel's signatures: TF Serving answers such a request with that error instead of a
    black face and a NaN embedding (one NaN sample poisons the whole utterance's normalisation).
    """
    return tf.debugging.assert_all_finite(waveform, f"{where}: {NON_FINITE}")


def refuse_non_finite_tflite(waveform):
    """`waveform` unchanged, or a failed interpreter invoke if a sample is NaN or +-Inf; builtin ops only.

    TFLite has no assert among its builtin ops, and the converter silently drops CheckNumerics, so
    `refuse_non_finite` would vanish from a .tflite file. Instead: sum(waveform * 0) is 0 for finite
    samples and NaN otherwise; that picks index 0 or 1 of a one-element GATHER, and an index out of
    range makes LiteRT fail the invoke ("gather index out of bounds"; the interpreter stays usable).
    """
    poisoned = tf.reduce_sum(waveform * 0.0)
    index = tf.cast(tf.not_equal(poisoned, 0.0), tf.int32)
    return waveform * tf.gather(tf.ones([1], waveform.dtype), index)


@keras.saving.register_keras_serializable(package="s2f_tf")
class TileToMinFrames(keras.layers.Layer):
    """Features `[batch, frames, bins]` -> at least `min_frames` frames (SPEC-wen2019.md step 8).

    A sequence shorter than `min_frames` is repeated whole until it is at least that long and then cut at
    `min_frames`; a longer one is returned unchanged (the whole recording is used).

    Args:
        min_frames: the test length (`AudioConfig.test_frames`, 1000 for the reference).

    Example:
    >>> TileToMinFrames(5)(tf.reshape(tf.range(3.0), [1, 3, 1]))[0, :, 0].numpy()
    array([0., 1., 2., 0., 1.], dtype=float32)
    """

    def __init__(self, min_frames: int, **kwargs):
        super().__init__(**kwargs)
        # === Config ===
        self.min_frames = int(min_frames)

    def call(self, features):
        frames = tf.shape(features)[1]
        repeats = (self.min_frames + frames - 1) // tf.maximum(frames, 1)
        tiled = tf.tile(features, tf.stack([1, tf.maximum(repeats, 1), 1]))
        return tiled[:, : tf.maximum(frames, self.min_frames)]

    def compute_output_shape(self, input_shape):
        frames = input_shape[1]
        frames = None if frames is None else max(frames, self.min_frames)
        return (input_shape[0], frames, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update(min_frames=self.min_frames)
        return config


def to_uint8_image(face_float):
    """Generator output (linear, nominally [-1, 1]) -> uint8 `round((clip(x, -1, 1) + 1) * 127.5)`."""
    scaled = (tf.clip_by_value(face_float, -1.0, 1.0) + 1.0) * 127.5
    return tf.cast(tf.round(scaled), tf.uint8)


@keras.saving.register_keras_serializable(package="s2f_tf")
class VoiceToFace(keras.Model):
    """Waveform `[batch, samples]` (float32, 16 kHz, [-1, 1]) -> `{"face", "face_float", "embedding"}`.

    `face` is uint8 `[batch, 64, 64, 3]`, `face_float` the generator's linear output (float32, same shape),
    `embedding` the L2-normalised voice embedding `[batch, embedding_dim]` that the generator received.
    All examples in a batch have the same length; each is normalised and tiled on its own.

    Args:
        voice_encoder: a built `VoiceEncoder` (run with `training=False`: BatchNorm uses its statistics).
        generator: a built `Generator`.
        audio: the `AudioConfig` of the front end and of the test-time tiling (`test_frames`).

    Example:
    >>> config = preset("tiny")
    >>> models = build_models(config, num_classes=2)
    >>> model = VoiceToFace(models.voice_encoder, models.generator, config.audio)
    >>> model(tf.zeros([1, 8000]))["face"].dtype
    tf.uint8
    """

    def __init__(self, voice_encoder, generator, audio: AudioConfig | dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(audio, dict):
            audio = AudioConfig(**audio)
        # === Config ===
        self.audio = audio or AudioConfig()

        # === Layers ===
        self.voice_encoder = voice_encoder
        self.generator = generator
        self.frontend = LogMelSpectrogram(self.audio, name="log_mel")
        self.tiling = TileToMinFrames(self.audio.test_frames, name="test_time_tiling")

    @classmethod
    def from_config_and_models(cls, config: Config, voice_encoder, generator, **kwargs):
        return cls(voice_encoder, generator, config.audio, **kwargs)

    def build(self, input_shape):
        self.built = True

    def call(self, waveform):
        features = self.tiling(self.frontend(waveform))
        embedding = self.voice_encoder(features, training=False)
        embedding = tf.math.l2_normalize(embedding, axis=-1)
        face_float = self.generator(embedding)
        return {
            "face": to_uint8_image(face_float),
            "face_float": face_float,
            "embedding": embedding,
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            voice_encoder=keras.saving.serialize_keras_object(self.voice_encoder),
            generator=keras.saving.serialize_keras_object(self.generator),
            audio=vars(self.audio).copy(),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        voice_encoder = keras.saving.deserialize_keras_object(config.pop("voice_encoder"))
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        return cls(voice_encoder, generator, **config)
