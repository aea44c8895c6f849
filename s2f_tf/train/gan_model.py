"""The `fit()` driver: a keras.Model whose `train_step` is the same GANStep the custom loop runs."""

from __future__ import annotations

import keras
import tensorflow as tf

from s2f_tf.config import AudioConfig
from s2f_tf.models import Models
from s2f_tf.models.voice_to_face import voice_embedding
from s2f_tf.train.step import GANStep, step_options


class VoiceToFaceGAN(keras.Model):
    """Keras users train the recipe with `compile(g_optimizer, d_optimizer)` + `fit(dataset)`.

    The dataset yields the GANStep batch dicts. Works under any tf.distribute strategy: build it and
    compile it inside `strategy.scope()` (the optimizers' slots are built in `compile`, docs/recipe.md, TensorFlow pitfall 2).
    Standard callbacks (TensorBoard, BackupAndRestore, ModelCheckpoint) apply.

    Args:
        models: the `Models` of `build_models`; the voice encoder is frozen.
        embedding_noise: noise added to the normalised voice embedding.
        audio: the front end's settings, for batches of waveform crops (`train.features_on="device"`).
        adversarial_loss, r1_gamma, reconstruction_weight, feature_matching_weight: as `TrainConfig`
            (the reference: "bce", 0, 0, 0).
        augmentations: DiffAugment policies (`TrainConfig.augmentations`; the reference: none).

    Example:
    >>> gan = VoiceToFaceGAN(build_models(preset("tiny"), num_classes=10))
    >>> gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
    >>> gan.fit(dataset, steps_per_epoch=100, epochs=5)  # doctest: +SKIP
    """

    def __init__(
        self,
        models: Models,
        embedding_noise: float = 0.05,
        audio: AudioConfig | None = None,
        adversarial_loss: str = "bce",
        r1_gamma: float = 0.0,
        reconstruction_weight: float = 0.0,
        feature_matching_weight: float = 0.0,
        augmentations: tuple[str, ...] = (),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.voice_encoder = models.voice_encoder
        self.generator = models.generator
        self.face_embedder = models.face_embedder
        self.discriminator = models.discriminator
        self.classifier = models.classifier
        self.voice_encoder.trainable = False
        self.embedding_noise = embedding_noise
        self.audio = audio
        self.adversarial_loss, self.r1_gamma = adversarial_loss, r1_gamma
        self.reconstruction_weight = reconstruction_weight
        self.feature_matching_weight = feature_matching_weight
        self.augmentations = tuple(augmentations)
        self._models = models
        self.gan_step = None
        self.trackers = {}

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.gan_step = GANStep(
            self._models,
            g_optimizer,
            d_optimizer,
            self.embedding_noise,
            audio=self.audio,
            adversarial_loss=self.adversarial_loss,
            r1_gamma=self.r1_gamma,
            reconstruction_weight=self.reconstruction_weight,
            feature_matching_weight=self.feature_matching_weight,
            augmentations=self.augmentations,
        )
        self.gan_step.build_optimizers()
        # Metric variables too must exist before the first traced step (docs/recipe.md, TensorFlow pitfall 2).
        self.trackers = {k: keras.metrics.Mean(name=k) for k in self.gan_step.metrics}
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.built = True

    @classmethod
    def from_config(cls, models: Models, config, **kwargs):
        """The GAN of `config`: its train section's loss options and its audio front end."""
        return cls(models, **step_options(config), **kwargs)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, features):
        """Voice features -> generated faces (no noise): what a user of the trained model wants."""
        return self.generator(voice_embedding(self.voice_encoder, features))

    def train_step(self, data):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        global_batch = (
            tf.shape(data["face"])[0] * replicas
        )  # voices and faces come in equal numbers
        values = self.gan_step(data, global_batch)
        for key, value in values.items():
            self.trackers[key].update_state(value)
        return {key: tracker.result() for key, tracker in self.trackers.items()}
