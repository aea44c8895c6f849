"""The reference networks and `build_models`, which returns them built."""

import dataclasses

import keras

from s2f_tf.config import Config
from s2f_tf.models.face_embedder import FaceEmbedder
from s2f_tf.models.generator import Generator
from s2f_tf.models.heads import classifier_head, discriminator_head
from s2f_tf.models.voice_encoder import VoiceEncoder

__all__ = [
    "FaceEmbedder",
    "Generator",
    "Models",
    "VoiceEncoder",
    "build_generator",
    "build_models",
    "build_voice_encoder",
    "classifier_head",
    "discriminator_head",
]


@dataclasses.dataclass
class Models:
    voice_encoder: VoiceEncoder
    generator: Generator
    face_embedder: FaceEmbedder
    discriminator: keras.layers.Dense
    classifier: keras.layers.Dense


def build_voice_encoder(config: Config, name: str = "voice_encoder") -> VoiceEncoder:
    """The voice encoder of `config`, built: features `[batch, frames, mel bins]` -> `[batch, D]`."""
    voice_encoder = VoiceEncoder.from_model_config(config.model, name=name)
    voice_encoder.build((None, None, config.audio.num_mel_bins))
    return voice_encoder


def build_generator(config: Config, name: str = "generator") -> Generator:
    """The generator of `config`, built: embedding `[batch, D]` -> face `[batch, size, size, 3]`."""
    generator = Generator.from_model_config(config.model, name=name)
    generator.build((None, config.model.embedding_dim))
    return generator


def build_models(config: Config, num_classes: int) -> Models:
    """All five networks of the recipe, built (weights created) for `num_classes` identities."""
    m = config.model
    voice_encoder = build_voice_encoder(config)
    generator = build_generator(config)
    face_embedder = FaceEmbedder.from_model_config(m, name="face_embedder")
    face_embedder.build((None, m.image_size, m.image_size, 3))
    return Models(
        voice_encoder=voice_encoder,
        generator=generator,
        face_embedder=face_embedder,
        discriminator=discriminator_head(m.embedding_dim),
        classifier=classifier_head(num_classes, m.embedding_dim),
    )
