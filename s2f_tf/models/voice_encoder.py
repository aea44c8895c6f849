"""The voice embedding network of Wen et al. (2019): a 1-D conv stack over log-mel frames."""

import keras

from s2f_tf.config import ModelConfig
from s2f_tf.models.stack import build_stack, run_stack, track_layers


@keras.saving.register_keras_serializable(package="s2f_tf")
class VoiceEncoder(keras.Model):
    """Log-mel features `[batch, frames, 64]` -> voice embedding `[batch, embedding_dim]` (not normalised).

    Each block is Conv1D(k3, s2, PyTorch padding 1, no bias) -> BatchNorm -> ReLU; a last Conv1D (with
    bias, no BN, no ReLU) maps to the embedding, which is averaged over time. PyTorch's p=1 pads one frame
    on each side; Keras "same" would pad (0, 1) on even lengths, so padding is explicit.

    Args:
        channels: widths of the conv-BN-ReLU blocks.
        embedding_dim: output width.
        batchnorm_momentum: Keras momentum (0.9 = PyTorch's 0.1).
        batchnorm_epsilon: BatchNorm epsilon (PyTorch's 1e-5).

    Example:
    >>> encoder = VoiceEncoder()
    >>> encoder(keras.ops.zeros([2, 300, 64])).shape
    (2, 64)
    """

    def __init__(
        self,
        channels=(256, 384, 576, 864),
        embedding_dim=64,
        batchnorm_momentum=0.9,
        batchnorm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Config ===
        self.channels = tuple(channels)
        self.embedding_dim = embedding_dim
        self.batchnorm_momentum = batchnorm_momentum
        self.batchnorm_epsilon = batchnorm_epsilon

        # === Layers ===
        self.blocks = []
        for i, width in enumerate(self.channels):
            self.blocks += [
                keras.layers.ZeroPadding1D(1, name=f"pad{i}"),
                keras.layers.Conv1D(width, 3, strides=2, use_bias=False, name=f"conv{i}"),
                keras.layers.BatchNormalization(
                    momentum=batchnorm_momentum, epsilon=batchnorm_epsilon, name=f"bn{i}"
                ),
                keras.layers.ReLU(name=f"relu{i}"),
            ]
        self.blocks += [
            keras.layers.ZeroPadding1D(1, name="pad_out"),
            keras.layers.Conv1D(embedding_dim, 3, strides=2, name="conv_out"),
        ]
        self.pool = keras.layers.GlobalAveragePooling1D(name="mean_over_time")
        track_layers(self, self.blocks)

    @classmethod
    def from_model_config(cls, model: ModelConfig, **kwargs):
        return cls(
            channels=model.voice_channels,
            embedding_dim=model.embedding_dim,
            batchnorm_momentum=model.batchnorm_momentum,
            batchnorm_epsilon=model.batchnorm_epsilon,
            **kwargs,
        )

    def build(self, input_shape):
        shape = build_stack(self.blocks, input_shape)
        self.pool.build(shape)
        self.built = True

    def call(self, features, training=False):
        return self.pool(run_stack(self.blocks, features, training=training))

    def get_config(self):
        config = super().get_config()
        config.update(
            channels=list(self.channels),
            embedding_dim=self.embedding_dim,
            batchnorm_momentum=self.batchnorm_momentum,
            batchnorm_epsilon=self.batchnorm_epsilon,
        )
        return config
