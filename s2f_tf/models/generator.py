"""The face generator of Wen et al. (2019): transposed convolutions from a 64-d embedding to 64x64x3."""

import keras

from s2f_tf.config import ModelConfig
from s2f_tf.models.stack import build_stack, run_stack, track_layers


@keras.saving.register_keras_serializable(package="s2f_tf")
class Generator(keras.Model):
    """Embedding `[batch, embedding_dim]` -> face `[batch, 64, 64, 3]`, linear output (no tanh).

    A ConvTranspose(k4, s1, valid) makes a 4x4 seed from the 1x1 embedding; each following
    ConvTranspose(k4, s2) + ReLU doubles the size (Keras "same" crops one pixel per side here, exactly
    PyTorch's padding=1); a 1x1 ConvTranspose maps to RGB. All layers have biases and no BatchNorm. The
    output is clipped to [-1, 1] only when it becomes an image.

    Args:
        channels: widths from the 4x4 seed up; 5 entries give 64x64 output.
        embedding_dim: input width.
        image_channels: output channels.

    Example:
    >>> generator = Generator()
    >>> generator(keras.ops.zeros([2, 64])).shape
    (2, 64, 64, 3)
    """

    def __init__(
        self, channels=(1024, 512, 256, 128, 64), embedding_dim=64, image_channels=3, **kwargs
    ):
        super().__init__(**kwargs)
        # === Config ===
        self.channels = tuple(channels)
        self.embedding_dim = embedding_dim
        self.image_channels = image_channels

        # === Layers ===
        self.seed = keras.layers.Reshape((1, 1, embedding_dim), name="as_image")
        self.blocks = [
            keras.layers.Conv2DTranspose(self.channels[0], 4, padding="valid", name="deconv0"),
            keras.layers.ReLU(name="relu0"),
        ]
        for i, width in enumerate(self.channels[1:], start=1):
            self.blocks += [
                keras.layers.Conv2DTranspose(
                    width, 4, strides=2, padding="same", name=f"deconv{i}"
                ),
                keras.layers.ReLU(name=f"relu{i}"),
            ]
        self.blocks.append(keras.layers.Conv2DTranspose(image_channels, 1, name="to_rgb"))
        track_layers(self, self.blocks)

    @classmethod
    def from_model_config(cls, model: ModelConfig, **kwargs):
        return cls(channels=model.generator_channels, embedding_dim=model.embedding_dim, **kwargs)

    def build(self, input_shape):
        build_stack([self.seed] + self.blocks, input_shape)
        self.built = True

    def call(self, embedding):
        return run_stack(self.blocks, self.seed(embedding))

    def get_config(self):
        config = super().get_config()
        config.update(
            channels=list(self.channels),
            embedding_dim=self.embedding_dim,
            image_channels=self.image_channels,
        )
        return config
