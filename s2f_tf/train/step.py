"""The GAN step of Wen, Raj & Singh (2019), written once and driven by both the custom loop and `fit()`.

One iteration (docs/recipe.md "Losses and one training iteration"):
1. e = normalize(E(voice)), e = normalize(e + 0.05 * N(0, 1)), fake = G(e); E is frozen, inference mode.
2. D/C update: BCE(d(f(face)), 1) + BCE(d(f(fake)), 0) + CE(c(f(face)), face_label) on f, d and c, with
   `fake` a constant. The classifier learns from real faces only.
3. G update: BCE(d(f(fake)), 1) + CE(c(f(fake)), voice_label) on G only, through the *updated* f, d, c.

The generator runs forward once per step: the G tape is open around it, paused during the D/C update.
Real and fake faces go through f as one batch (f has no batch statistics, so this is exact).
Per-example losses are scaled by the global batch size, so gradients summed over replicas (what Keras 3
optimizers do under tf.distribute) are the global-batch mean.

Beyond the recipe (other presets): hinge adversarial terms instead of BCE; an R1 penalty on the real
faces' logits added to the D/C loss (a second-order gradient of the same forward pass); an L1 term pairing
each generated face with a real face of its voice's identity, added to G's loss; differentiable
augmentation (DiffAugment) of every face f sees, in both updates.
"""

from __future__ import annotations

import tensorflow as tf

from s2f_tf import losses
from s2f_tf.config import AudioConfig
from s2f_tf.data.crops import featurize_batch
from s2f_tf.frontend import LogMelSpectrogram
from s2f_tf.models import Models
from s2f_tf.models.voice_to_face import voice_embedding
from s2f_tf.train.augment import PARAMS, STREAMS, augment


def _accuracy(correct):
    return tf.cast(correct, tf.float32)


class GANStep:
    """Holds the networks and the two optimizers; `step(batch, global_batch_size)` trains once.

    Args:
        models: the `Models` of `build_models`; the voice encoder is not trained.
        g_optimizer: updates the generator.
        d_optimizer: updates the face embedder, the discriminator and the classifier heads.
        embedding_noise: standard deviation of the noise added to the normalised voice embedding.
        audio: the front end's settings, for batches of waveform crops (features on the device).
        adversarial_loss: "bce" (the reference) or "hinge" (`losses.ADVERSARIAL`).
        r1_gamma: weight of the R1 penalty on real faces (0: none, the reference).
        reconstruction_weight: weight of the L1 term between each generated face and "voice_face", a
            real face of its voice's identity (0: none, the reference).
        feature_matching_weight: weight of the L1 distance between f's activations for each generated
            face and for its "voice_face", summed over f's blocks (0: none, the reference).
        augmentations: DiffAugment policies applied to every face f sees (`train.augment`; (): none).

    The batch is a dict: "voice" [B, T, 64] features (or the waveform crops of `train.features_on =
    "device"`, "voice_wave" & co., featurised here by the same front end), "voice_label" [B], "face" [B, 64, 64, 3] in [-1, 1],
    "face_label" [B]; with a reconstruction or feature-matching weight, "voice_face" [B, 64, 64, 3] and "voice_face_found"
    [B] (1 where the identity had a face); optionally "noise" [B, embedding_dim] ~ N(0, 1) and, with
    augmentations, "augment" [B, 3, augment.PARAMS] ~ U[0, 1) (drawn here when absent; the input pipeline
    supplies them so that runs are reproducible across replica counts).
    Returns global means of the loss terms and accuracies (identical on every replica).
    """

    METRICS = (
        "loss/d_adversarial",
        "loss/d_identity",
        "loss/g_adversarial",
        "loss/g_identity",
        "acc/d_real",
        "acc/d_fake",
        "acc/c_real",
        "acc/c_fake",
    )
    R1_METRIC = "loss/d_r1"  # reported as well when r1_gamma > 0
    RECONSTRUCTION_METRIC = "loss/g_reconstruction"  # reported when reconstruction_weight > 0
    FEATURE_MATCHING_METRIC = "loss/g_feature_matching"  # reported when feature_matching_weight > 0

    def __init__(
        self,
        models: Models,
        g_optimizer,
        d_optimizer,
        embedding_noise: float = 0.05,
        audio: AudioConfig | None = None,
        adversarial_loss: str = "bce",
        r1_gamma: float = 0.0,
        reconstruction_weight: float = 0.0,
        feature_matching_weight: float = 0.0,
        augmentations: tuple[str, ...] = (),
    ):
        self.models = models
        self.frontend = LogMelSpectrogram(audio, normalize=False)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.embedding_noise = embedding_noise
        self.d_loss, self.g_loss = losses.ADVERSARIAL[adversarial_loss]
        self.r1_gamma = float(r1_gamma)
        self.reconstruction_weight = float(reconstruction_weight)
        self.feature_matching_weight = float(feature_matching_weight)
        self.augmentations = tuple(augmentations)

    @classmethod
    def from_config(cls, models: Models, g_optimizer, d_optimizer, config) -> GANStep:
        """The step of `config` (its train section's loss options and its audio front end)."""
        return cls(models, g_optimizer, d_optimizer, **step_options(config))

    @property
    def metrics(self) -> tuple[str, ...]:
        """The names of the values a step returns."""
        extra = (self.R1_METRIC,) if self.r1_gamma else ()
        extra += (self.RECONSTRUCTION_METRIC,) if self.reconstruction_weight else ()
        extra += (self.FEATURE_MATCHING_METRIC,) if self.feature_matching_weight else ()
        return self.METRICS + extra

    def _augment(self, images, params, stream):
        """`images` through the augmentations with the draws of `stream` (one of augment.STREAMS)."""
        if not self.augmentations:
            return images
        return augment(images, params[:, STREAMS.index(stream)], self.augmentations)

    @property
    def g_variables(self):
        return self.models.generator.trainable_variables

    @property
    def d_variables(self):
        m = self.models
        return (
            m.face_embedder.trainable_variables
            + m.discriminator.trainable_variables
            + m.classifier.trainable_variables
        )

    def build_optimizers(self):
        """Create the optimizer slots now (docs/recipe.md, TensorFlow pitfall 2: never lazily inside a replica context)."""
        self.g_optimizer.build(self.g_variables)
        self.d_optimizer.build(self.d_variables)

    def _discriminator_update(self, real, fake, face_label, params, scale):
        m = self.models
        real = tf.convert_to_tensor(real)  # a tensor the R1 tape can watch
        batch = tf.shape(real)[0]
        with tf.GradientTape() as tape:
            with tf.GradientTape(watch_accessed_variables=False) as r1_tape:
                r1_tape.watch(real)
                seen = [
                    self._augment(real, params, "real"),
                    self._augment(tf.cast(fake, real.dtype), params, "fake"),
                ]
                embedding = m.face_embedder(tf.concat(seen, 0), training=True)
                logits = tf.cast(m.discriminator(embedding), tf.float32)
                real_logits, fake_logits = logits[:batch], logits[batch:]
            class_logits = m.classifier(embedding[:batch])
            adversarial = self.d_loss(real_logits, fake_logits)
            identity = losses.identity_loss(face_label, class_logits)
            per_example = adversarial + identity
            if self.r1_gamma:
                # d sum(real logits) / d real: each example's own gradient (examples are independent).
                r1 = losses.r1_penalty(r1_tape.gradient(real_logits, real), self.r1_gamma)
                per_example += r1
            loss = scale(per_example)
        gradients = tape.gradient(loss, self.d_variables)
        self.d_optimizer.apply_gradients(zip(gradients, self.d_variables, strict=True))
        extra = {self.R1_METRIC: scale(r1)} if self.r1_gamma else {}
        return {
            **extra,
            "loss/d_adversarial": scale(adversarial),
            "loss/d_identity": scale(identity),
            "acc/d_real": scale(_accuracy(real_logits[:, 0] > 0)),
            "acc/d_fake": scale(_accuracy(fake_logits[:, 0] < 0)),
            "acc/c_real": scale(_accuracy(_top1(class_logits, face_label))),
        }

    def __call__(self, batch, global_batch_size):
        m = self.models

        def scale(per_example):
            return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)

        embedding = voice_embedding(m.voice_encoder, featurize_batch(self.frontend, batch))
        noise = batch.get("noise")
        if noise is None:
            noise = tf.random.normal(tf.shape(embedding))
        embedding = tf.math.l2_normalize(embedding + self.embedding_noise * noise, axis=-1)
        params = batch.get("augment")
        if params is None and self.augmentations:
            params = tf.random.uniform([tf.shape(embedding)[0], len(STREAMS), PARAMS])

        with tf.GradientTape() as tape:
            fake = m.generator(embedding)
            with tape.stop_recording():
                # The D/C update sees the fake faces as constants; G is not touched here.
                metrics = self._discriminator_update(
                    batch["face"], tf.stop_gradient(fake), batch["face_label"], params, scale
                )
            seen = self._augment(fake, params, "generator")
            if self.feature_matching_weight:
                fake_embedding, fake_features = m.face_embedder.embed_with_features(seen)
            else:
                fake_embedding = m.face_embedder(seen)
            fake_logits = m.discriminator(fake_embedding)
            class_logits = m.classifier(fake_embedding)
            adversarial = self.g_loss(fake_logits)
            identity = losses.identity_loss(batch["voice_label"], class_logits)
            per_example = adversarial + identity
            if self.reconstruction_weight:
                reconstruction = batch["voice_face_found"] * losses.l1_distance(
                    fake, batch["voice_face"]
                )
                per_example += self.reconstruction_weight * reconstruction
                metrics[self.RECONSTRUCTION_METRIC] = scale(reconstruction)
            if self.feature_matching_weight:
                matching = batch["voice_face_found"] * self._feature_distance(
                    fake_features, batch["voice_face"], params
                )
                per_example += self.feature_matching_weight * matching
                metrics[self.FEATURE_MATCHING_METRIC] = scale(matching)
            loss = scale(per_example)
        gradients = tape.gradient(loss, self.g_variables)
        self.g_optimizer.apply_gradients(zip(gradients, self.g_variables, strict=True))

        metrics.update(
            {
                "loss/g_adversarial": scale(adversarial),
                "loss/g_identity": scale(identity),
                "acc/c_fake": scale(_accuracy(_top1(class_logits, batch["voice_label"]))),
            }
        )
        return _sum_over_replicas(metrics)

    def _feature_distance(self, fake_features, real, params):
        """Per example: the L1 distances of f's activations for the generated faces (`fake_features`)
        to those for `real`, seen through the same augmentation, summed over f's blocks."""
        real = self._augment(tf.cast(real, fake_features[0].dtype), params, "generator")
        _, real_features = self.models.face_embedder.embed_with_features(real)
        return tf.add_n(
            [
                losses.l1_distance(a, tf.stop_gradient(b))
                for a, b in zip(fake_features, real_features, strict=True)
            ]
        )


def _top1(logits, labels):
    return tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(labels, tf.int32))


def _sum_over_replicas(values):
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return values
    return context.all_reduce(tf.distribute.ReduceOp.SUM, values)


def step_options(config) -> dict:
    """The keyword arguments of `GANStep` (and `VoiceToFaceGAN`) that `config` sets: its train section's
    loss options and its audio front end."""
    train = config.train
    return {
        "embedding_noise": train.embedding_noise,
        "audio": config.audio,
        "adversarial_loss": train.adversarial_loss,
        "r1_gamma": train.r1_gamma,
        "reconstruction_weight": train.reconstruction_weight,
        "feature_matching_weight": train.feature_matching_weight,
        "augmentations": train.augmentations,
    }
