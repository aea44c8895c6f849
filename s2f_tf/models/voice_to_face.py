"""Voice -> face, written once: features -> embedding -> L2 normalise -> generator.

`voice_embedding` is the generator's input (the frozen encoder in inference mode, normalised);
`TileToMinFrames` is the test-time tiling of docs/recipe.md step 8; `faces_from_features` chains them
with the generator; `VoiceToFace` puts the front end (`LogMelSpectrogram`) in front, and returns the face
as floats and as a uint8 image. Training (samples), evaluation, `s2f import-torch`'s parity check, the
export checks, the SavedModel and the TFLite files all run these.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from s2f_tf.config import AudioConfig
from s2f_tf.frontend import LogMelSpectrogram
from s2f_tf.images import to_uint8

OUTPUTS = ("face", "face_float", "embedding")  # what `VoiceToFace` returns, by name


def voice_embedding(voice_encoder, features):
    """normalize(E(features)) with E in inference mode, float32 [batch, embedding_dim]."""
    embedding = voice_encoder(features, training=False)
    return tf.math.l2_normalize(tf.cast(embedding, tf.float32), axis=-1)


def faces_from_features(voice_encoder, generator, features):
    """(face_float, embedding): the generator's linear output for `voice_embedding(features)`.

    `features` are used as given (tile them first with `TileToMinFrames` for the test-time rule).
    """
    embedding = voice_embedding(voice_encoder, features)
    return generator(embedding), embedding


def tile_to_min_frames(features, min_frames: int):
    """Features `[batch, frames, bins]` -> at least `min_frames` frames: the test-time rule of
    docs/recipe.md step 8 (see `TileToMinFrames`, the layer of the exported models)."""
    frames = tf.shape(features)[1]
    repeats = (min_frames + frames - 1) // tf.maximum(frames, 1)
    tiled = tf.tile(features, tf.stack([1, tf.maximum(repeats, 1), 1]))
    return tiled[:, : tf.maximum(frames, min_frames)]


@keras.saving.register_keras_serializable(package="s2f_tf")
class TileToMinFrames(keras.layers.Layer):
    """Features `[batch, frames, bins]` -> at least `min_frames` frames (docs/recipe.md step 8).

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
        return tile_to_min_frames(features, self.min_frames)

    def compute_output_shape(self, input_shape):
        frames = input_shape[1]
        frames = None if frames is None else max(frames, self.min_frames)
        return (input_shape[0], frames, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update(min_frames=self.min_frames)
        return config


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

    def build(self, input_shape):
        self.built = True

    def call(self, waveform):
        features = self.tiling(self.frontend(waveform))
        face_float, embedding = faces_from_features(self.voice_encoder, self.generator, features)
        return {"face": to_uint8(face_float), "face_float": face_float, "embedding": embedding}

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
