"""The face embedding network shared by the discriminator and the identity classifier (Wen et al. 2019)."""

import keras

from s2f_tf.config import ModelConfig
from s2f_tf.models.spectral_norm import SpectralConv2D
from s2f_tf.models.stack import build_stack, run_stack, track_layers


@keras.saving.register_keras_serializable(package="s2f_tf")
class FaceEmbedder(keras.Model):
    """Face `[batch, 64, 64, 3]` in [-1, 1] -> embedding `[batch, embedding_dim]`.

    A 1x1 conv stem + LeakyReLU(0.2), then Conv(k4, s2, PyTorch padding 1) + LeakyReLU(0.2) blocks halving
    the size, then a valid 4x4 conv to a 1x1 embedding with no activation. With `spectral_norm`, every
    convolution is a `SpectralConv2D` (its power iteration runs when called with `training=True`).

    Args:
        channels: the stem width followed by the widths of the stride-2 blocks (5 entries for 64 px
            faces, 6 for 128 px).
        embedding_dim: output width.
        leaky_relu_slope: negative slope (PyTorch's 0.2; Keras defaults to 0.3).
        spectral_norm: spectrally normalise the convolutions.

    Example:
    >>> embedder = FaceEmbedder()
    >>> embedder(keras.ops.zeros([2, 64, 64, 3])).shape
    (2, 64)
    """

    def __init__(
        self,
        channels=(32, 64, 128, 256, 512),
        embedding_dim=64,
        leaky_relu_slope=0.2,
        spectral_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Config ===
        self.channels = tuple(channels)
        self.embedding_dim = embedding_dim
        self.leaky_relu_slope = leaky_relu_slope
        self.spectral_norm = bool(spectral_norm)

        # === Layers ===
        conv = SpectralConv2D if self.spectral_norm else keras.layers.Conv2D
        self.blocks = [
            conv(self.channels[0], 1, name="stem"),
            keras.layers.LeakyReLU(leaky_relu_slope, name="act0"),
        ]
        for i, width in enumerate(self.channels[1:], start=1):
            self.blocks += [
                keras.layers.ZeroPadding2D(1, name=f"pad{i}"),
                conv(width, 4, strides=2, name=f"conv{i}"),
                keras.layers.LeakyReLU(leaky_relu_slope, name=f"act{i}"),
            ]
        self.blocks += [
            conv(embedding_dim, 4, name="conv_out"),
            keras.layers.Flatten(name="flatten"),
        ]
        track_layers(self, self.blocks)

    @classmethod
    def from_model_config(cls, model: ModelConfig, **kwargs):
        return cls(
            channels=model.face_channels,
            embedding_dim=model.embedding_dim,
            leaky_relu_slope=model.leaky_relu_slope,
            spectral_norm=model.spectral_norm,
            **kwargs,
        )

    def build(self, input_shape):
        build_stack(self.blocks, input_shape)
        self.built = True

    def call(self, images, training=None):
        return run_stack(self.blocks, images, training=training)

    def embed_with_features(self, images, training=None):
        """(embedding, [the activation after each LeakyReLU]): the network's intermediate features as
        well, for a feature-matching term; the same computation as `call`."""
        features, x = [], images
        for layer in self.blocks:
            x = layer(x, training=training)
            if isinstance(layer, keras.layers.LeakyReLU):
                features.append(x)
        return x, features

    def get_config(self):
        config = super().get_config()
        config.update(
            channels=list(self.channels),
            embedding_dim=self.embedding_dim,
            leaky_relu_slope=self.leaky_relu_slope,
            spectral_norm=self.spectral_norm,
        )
        return config
