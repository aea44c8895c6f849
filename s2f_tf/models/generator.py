"""The face generator of Wen et al. (2019): transposed convolutions from a 64-d embedding to 64x64x3
(or, with `upsample="resize"`, nearest-neighbour doubling + 3x3 convolutions, at any power-of-two size)."""

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

    With `upsample="resize"` each doubling is instead UpSampling2D(2, nearest) + Conv(k3, s1, same) +
    ReLU: every output pixel sees the same number of kernel taps, so there is no checkerboard.

    Args:
        channels: widths from the 4x4 seed up; 5 entries give 64x64 output, 6 give 128x128.
        embedding_dim: input width.
        image_channels: output channels.
        upsample: "transpose" (the reference) or "resize".

    Example:
    >>> generator = Generator()
    >>> generator(keras.ops.zeros([2, 64])).shape
    (2, 64, 64, 3)
    """

    def __init__(
        self,
        channels=(1024, 512, 256, 128, 64),
        embedding_dim=64,
        image_channels=3,
        upsample="transpose",
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Config ===
        self.channels = tuple(channels)
        self.embedding_dim = embedding_dim
        self.image_channels = image_channels
        self.upsample = upsample

        # === Layers ===
        self.seed = keras.layers.Reshape((1, 1, embedding_dim), name="as_image")
        self.blocks = [
            keras.layers.Conv2DTranspose(self.channels[0], 4, padding="valid", name="deconv0"),
            keras.layers.ReLU(name="relu0"),
        ]
        for i, width in enumerate(self.channels[1:], start=1):
            if upsample == "resize":
                self.blocks += [
                    keras.layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}"),
                    keras.layers.Conv2D(width, 3, padding="same", name=f"conv{i}"),
                ]
            else:
                self.blocks.append(
                    keras.layers.Conv2DTranspose(
                        width, 4, strides=2, padding="same", name=f"deconv{i}"
                    )
                )
            self.blocks.append(keras.layers.ReLU(name=f"relu{i}"))
        self.blocks.append(keras.layers.Conv2DTranspose(image_channels, 1, name="to_rgb"))
        track_layers(self, self.blocks)

    @classmethod
    def from_model_config(cls, model: ModelConfig, **kwargs):
        return cls(
            channels=model.generator_channels,
            embedding_dim=model.embedding_dim,
            upsample=model.generator_upsample,
            **kwargs,
        )

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
            upsample=self.upsample,
        )
        return config
