"""Face classifiers trained here on real faces, used to judge generated faces (Wen et al. 2019, Sec. 4).

Both the identity and the gender classifier are *separate* networks (not the GAN's classifier head): the
`FaceEmbedder` architecture of the work directory's config (its `face_channels`) followed by a linear head
with bias, trained from scratch with Adam and cross-entropy on real faces of the training identities,
flipped horizontally with probability 0.5 and normalised to [-1, 1]. The identity classifier's embedder,
L2-normalised, is also the fixed face-embedding space of 1:2 matching, retrieval and cosine similarity.
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from s2f_tf.config import ModelConfig
from s2f_tf.images import to_unit_range
from s2f_tf.models import FaceEmbedder


@keras.saving.register_keras_serializable(package="s2f_tf")
class FaceClassifier(keras.Model):
    """Real-face classifier: `FaceEmbedder` -> Dense(num_classes) logits.

    Args:
        num_classes: number of classes (identities, or 2 for gender).
        channels: the face embedder's widths (ModelConfig.face_channels).
        embedding_dim: the embedding width.
        leaky_relu_slope: the embedder's LeakyReLU slope.

    Example:
    >>> classifier = FaceClassifier(10, channels=(4, 8, 8, 16, 16))
    >>> classifier(keras.ops.zeros([2, 64, 64, 3])).shape
    (2, 10)
    """

    def __init__(
        self,
        num_classes,
        channels=(32, 64, 128, 256, 512),
        embedding_dim=64,
        leaky_relu_slope=0.2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Config ===
        self.num_classes = num_classes
        self.channels = tuple(channels)
        self.embedding_dim = embedding_dim
        self.leaky_relu_slope = leaky_relu_slope

        # === Layers ===
        self.embedder = FaceEmbedder(
            channels, embedding_dim, leaky_relu_slope, name="face_embedder"
        )
        self.head = keras.layers.Dense(num_classes, name="head")

    @classmethod
    def from_model_config(cls, model: ModelConfig, num_classes, **kwargs):
        return cls(
            num_classes,
            channels=model.face_channels,
            embedding_dim=model.embedding_dim,
            leaky_relu_slope=model.leaky_relu_slope,
            **kwargs,
        )

    def build(self, input_shape):
        self.embedder.build(input_shape)
        self.head.build((None, self.embedding_dim))
        self.built = True

    def call(self, images):
        return self.head(self.embedder(images))

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            channels=list(self.channels),
            embedding_dim=self.embedding_dim,
            leaky_relu_slope=self.leaky_relu_slope,
        )
        return config

    def embed(self, images, batch_size=256):
        """uint8 faces [N, H, W, 3] -> float embeddings [N, embedding_dim] (not normalised)."""
        return self._batched(self.embedder, images, batch_size, self.embedding_dim)

    def logits(self, images, batch_size=256):
        """uint8 faces [N, H, W, 3] -> float logits [N, num_classes]."""
        return self._batched(self, images, batch_size, self.num_classes)

    @staticmethod
    def _batched(fn, images, batch_size, width):
        out = [
            np.asarray(fn(to_unit_range(images[i : i + batch_size])))
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, width), np.float32)


@dataclasses.dataclass
class TrainedClassifier:
    """A trained classifier and the figures of its training (mean over the last 10 % of steps)."""

    model: FaceClassifier
    steps: int
    final_loss: float
    final_accuracy: float
    train_samples: int
    seconds: dict = dataclasses.field(default_factory=dict)  # wall time: set-up, first step, steps


def train_face_classifier(
    images,
    labels,
    num_classes,
    model_config: ModelConfig,
    steps=300,
    batch_size=64,
    learning_rate=1e-3,
    seed=0,
    desc="face classifier",
) -> TrainedClassifier:
    """Trains a `FaceClassifier` from scratch on uint8 faces with integer labels.

    Args:
        images: uint8 [N, H, W, 3] real faces.
        labels: int [N] class of each face in [0, num_classes).
        num_classes: number of classes.
        model_config: the embedder's widths come from here.
        steps: Adam steps of `batch_size` faces (shuffled, repeated, flipped with p = 0.5).
        learning_rate: Adam learning rate.
        seed: seeds the weights, the shuffle and the flips.
        desc: the progress bar's label (stderr).
    """
    if len(images) == 0:
        raise ValueError("no faces to train a classifier on")
    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    size = images.shape[1:]
    model = FaceClassifier.from_model_config(model_config, num_classes, name="face_classifier")
    model.build((None, *size))
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)

    dataset = _shuffled_faces(images, labels, batch_size, seed)
    train_step = _classifier_step(model, optimizer)

    history = []
    marks = [time.perf_counter()]
    bar = tqdm(dataset.take(steps), total=steps, desc=desc, leave=False)
    for x, y in bar:
        loss, accuracy = train_step(x, y)
        history.append((float(loss), float(accuracy)))
        marks.append(time.perf_counter())
        bar.set_postfix(loss=f"{history[-1][0]:.3f}", acc=f"{history[-1][1]:.2f}")
    tail = np.asarray(history[-max(1, steps // 10) :])
    seconds = {
        "set_up": marks[0] - started,
        "first_step": marks[1]
        - marks[0],  # includes tracing the step and filling the input pipeline
        "other_steps": marks[-1] - marks[1],
        "after_last_step": time.perf_counter() - marks[-1],
    }
    return TrainedClassifier(
        model=model,
        steps=steps,
        final_loss=float(tail[:, 0].mean()),
        final_accuracy=float(tail[:, 1].mean()),
        train_samples=int(len(images)),
        seconds={key: round(value, 2) for key, value in seconds.items()},
    )


def _shuffled_faces(images, labels, batch_size, seed):
    """(faces in [-1, 1], labels) batches, shuffled and flipped (p = 0.5) with `seed`, repeated. The
    faces are held once (as one tensor); the shuffle buffer holds indices, not images."""
    all_images = tf.convert_to_tensor(np.asarray(images, np.uint8))
    all_labels = tf.convert_to_tensor(np.asarray(labels, np.int32))

    def prepare(index):
        image = tf.image.random_flip_left_right(tf.gather(all_images, index), seed=seed)
        return to_unit_range(image), tf.gather(all_labels, index)

    # Nothing here is tuned (a sequential map, a fixed prefetch), and tf.data's autotuning thread can hold
    # the iterator's teardown for up to ~40 s (benchmarks/RESULTS-matching.md): off.
    options = tf.data.Options()
    options.autotune.enabled = False
    return (
        tf.data.Dataset.range(len(images))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .map(prepare)
        .batch(batch_size)
        .prefetch(2)
        .with_options(options)
    )


def _classifier_step(model, optimizer):
    """One Adam step on the cross-entropy of a batch: `(x, y) -> (loss, accuracy)`."""

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        accuracy = tf.reduce_mean(
            tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == y, tf.float32)
        )
        return loss, accuracy

    return train_step
