"""The graph the exports run: `VoiceToFace`'s function, with the layers that LiteRT runs slowly rewritten.

The rewrites compute the same numbers up to float32 rounding, from the same weights; every export still
compares its artifacts with the Keras `VoiceToFace` (fp32 within 1e-4, clips from 1 sample to 20 s) before
publishing them. Measured in benchmarks/RESULTS-inference.md:

- `PhaseGenerator`: each transposed convolution of the reference generator (k4, s2, PyTorch padding 1)
  becomes one 2x2 convolution with four output groups, one per output phase (written as a matrix product
  of the four shifted views of the padded input), and a DEPTH_TO_SPACE; the 1x1 `to_rgb` is a 1x1
  convolution. XNNPACK runs these about twice as fast as its transposed-convolution kernels (Subconv2D),
  oneDNN 1.5x as fast as Conv2DBackpropInput. The 1x1 -> 4x4 seed stays a transposed convolution (as
  fast as a matrix product here, and in the int8 file its weights carry 1,024 per-channel scales, not
  the 16,384 of a [64, 16384] matrix: 190 kB less).
- `MatmulEncoder`: the voice encoder's strided 1-D convolutions as matrix products (a reshape to frame
  pairs instead of an im2col gather), BatchNorm folded in: 4-7 % less time for the whole model.
- the front end with `LogMelSpectrogram(dft="matmul")` (see there): the DFT as matrix products that run on
  every interpreter thread instead of the single-threaded RFFT2D builtin.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from s2f_tf.frontend import LogMelSpectrogram
from s2f_tf.models.generator import Generator
from s2f_tf.models.voice_to_face import VoiceToFace

# (4x4 kernel taps) of output phase 0 and 1, for the two input samples a 2x2 window sees.
_PHASE_TAPS = {0: (3, 1), 1: (2, 0)}


def frozen_weight(layer, name: str, value):
    """A non-trainable float32 weight of `layer` holding `value` (the SavedModel keeps it a variable)."""
    return layer.add_weight(
        name=name,
        shape=np.shape(value),
        initializer=keras.initializers.Constant(np.asarray(value, np.float32)),
        trainable=False,
        dtype="float32",
    )


def phase_kernel(kernel: np.ndarray) -> np.ndarray:
    """A Keras Conv2DTranspose(k4, s2, "same") kernel `[4, 4, out, in]` -> `[2, 2, in, 4 * out]`.

    With PyTorch's padding 1, output row 2m + a sums input rows m - 1 + a and m + a with kernel taps
    3, 1 (a = 0) or 2, 0 (a = 1); likewise for columns. A 2x2 VALID convolution over the input padded by
    one on each side sees exactly those rows at position m + a, so output phase (a, b) is channel group
    2a + b of that convolution, read at offset (a, b).
    """
    kernel = np.asarray(kernel)
    out_channels, in_channels = kernel.shape[2], kernel.shape[3]
    phases = np.zeros([2, 2, in_channels, 4 * out_channels], kernel.dtype)
    for a in (0, 1):
        for b in (0, 1):
            group = slice((2 * a + b) * out_channels, (2 * a + b + 1) * out_channels)
            for r in (0, 1):
                for c in (0, 1):
                    phases[r, c, :, group] = kernel[_PHASE_TAPS[a][r], _PHASE_TAPS[b][c]].T
    return phases


def phase_upsample(x, matrix, bias, out_channels: int):
    """ReLU(ConvTranspose(k4, s2, PyTorch padding 1)(x) + bias): `[B, H, W, C]` -> `[B, 2H, 2W, out]`.

    `matrix` is a `phase_kernel` reshaped to `[4 * C, 4 * out]`. The 2x2 convolution is written as its
    four shifted views of the padded input, concatenated on channels, times that matrix: one
    FULLY_CONNECTED / MatMul, which both XNNPACK and oneDNN run faster here than the convolution
    (oneDNN most for the 4x4 input: 15.6 -> 9.4 ms).
    """
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    patches = tf.concat(
        [padded[:, r : r + height + 1, c : c + width + 1] for r in (0, 1) for c in (0, 1)], axis=-1
    )
    y = tf.matmul(tf.reshape(patches, [-1, 4 * channels]), matrix)
    y = tf.reshape(tf.nn.relu(y + bias), [-1, height + 1, width + 1, 4 * out_channels])
    phases = [
        y[
            :,
            a : a + height,
            b : b + width,
            (2 * a + b) * out_channels : (2 * a + b + 1) * out_channels,
        ]
        for a in (0, 1)
        for b in (0, 1)
    ]
    return tf.nn.depth_to_space(tf.concat(phases, axis=-1), 2)


class PhaseGenerator(keras.layers.Layer):
    """A reference `Generator` (`upsample="transpose"`) without stride-2 transposed convolutions: same
    input and output (`phase_upsample` for each doubling).

    Its weights are copies of the generator's, rearranged and frozen: built for an export, not saved
    or trained.

    Args:
        generator: a built `Generator` with `upsample="transpose"`.

    Example:
    >>> fast = PhaseGenerator(generator)
    >>> np.abs(fast(embedding) - generator(embedding)).max() < 1e-5
    True
    """

    def __init__(self, generator: Generator, **kwargs):
        super().__init__(**kwargs)
        if generator.upsample != "transpose":
            raise ValueError(
                f"PhaseGenerator needs upsample='transpose', not {generator.upsample!r}"
            )
        deconvs = [b for b in generator.blocks if isinstance(b, keras.layers.Conv2DTranspose)]
        seed, *ups, to_rgb = deconvs

        # === Config ===
        self.seed_channels = generator.channels[0]
        self.up_channels = tuple(generator.channels[1:])

        # === Weights ===
        kernel = keras.ops.convert_to_numpy(seed.kernel)  # [4, 4, C0, D]: a 1x1 input -> 4x4
        self.seed_kernel = self._constant("seed_kernel", kernel)
        self.seed_bias = self._constant("seed_bias", keras.ops.convert_to_numpy(seed.bias))
        self.up_kernels, self.up_biases = [], []
        for i, layer in enumerate(ups, start=1):
            kernel = phase_kernel(keras.ops.convert_to_numpy(layer.kernel))
            self.up_kernels.append(
                self._constant(f"up{i}_kernel", kernel.reshape(-1, kernel.shape[-1]))
            )
            self.up_biases.append(
                self._constant(f"up{i}_bias", np.tile(keras.ops.convert_to_numpy(layer.bias), 4))
            )
        kernel = keras.ops.convert_to_numpy(to_rgb.kernel)  # [1, 1, 3, C]
        self.rgb_kernel = self._constant("rgb_kernel", np.transpose(kernel, (0, 1, 3, 2)))
        self.rgb_bias = self._constant("rgb_bias", keras.ops.convert_to_numpy(to_rgb.bias))
        self.built = True

    def _constant(self, name, value):
        return frozen_weight(self, name, value)

    def call(self, embedding):
        embedding = tf.cast(embedding, tf.float32)
        batch = embedding.shape[0] if embedding.shape[0] is not None else tf.shape(embedding)[0]
        x = tf.nn.conv2d_transpose(
            tf.reshape(embedding, [-1, 1, 1, embedding.shape[-1]]),
            self.seed_kernel,
            [batch, 4, 4, self.seed_channels],
            strides=1,
            padding="VALID",
        )
        x = tf.nn.relu(x + self.seed_bias)
        for kernel, bias, width in zip(
            self.up_kernels, self.up_biases, self.up_channels, strict=True
        ):
            x = phase_upsample(x, kernel, bias, width)
        return tf.nn.conv2d(x, self.rgb_kernel, 1, "VALID") + self.rgb_bias


class MatmulEncoder(keras.layers.Layer):
    """A `VoiceEncoder` in inference mode as matrix products: same input and output.

    Each Conv1D(k3, s2, PyTorch padding 1) reads frames 2t, 2t+1, 2t+2 of the padded input: pairs of
    frames side by side (a reshape to `[B, T/2, 2C]`) and the first half of the next pair, concatenated,
    times the kernel as a `[3C, out]` matrix. BatchNorm's moving statistics are folded into that matrix
    and a bias; ReLU follows as before; the last convolution keeps its bias, then the mean over time.

    Its weights are copies of the encoder's, folded and frozen: built for an export, not saved or
    trained.

    Args:
        encoder: a built `VoiceEncoder`.
    """

    def __init__(self, encoder, **kwargs):
        super().__init__(**kwargs)
        convs = [b for b in encoder.blocks if isinstance(b, keras.layers.Conv1D)]
        norms = [b for b in encoder.blocks if isinstance(b, keras.layers.BatchNormalization)]
        self.kernels, self.biases = [], []
        for i, conv in enumerate(convs):
            kernel = keras.ops.convert_to_numpy(conv.kernel).astype(np.float64)  # [3, C, out]
            bias = np.zeros(kernel.shape[-1])
            if conv.use_bias:
                bias = keras.ops.convert_to_numpy(conv.bias).astype(np.float64)
            if i < len(norms):
                bn = norms[i]
                scale = keras.ops.convert_to_numpy(bn.gamma) / np.sqrt(
                    keras.ops.convert_to_numpy(bn.moving_variance) + bn.epsilon
                )
                kernel = kernel * scale
                bias = (
                    keras.ops.convert_to_numpy(bn.beta)
                    - keras.ops.convert_to_numpy(bn.moving_mean) * scale
                )
            self.kernels.append(
                self._constant(f"conv{i}_matrix", kernel.reshape(-1, kernel.shape[-1]))
            )
            self.biases.append(self._constant(f"conv{i}_bias", bias))
        self.relu_blocks = len(norms)
        self.built = True

    def _constant(self, name, value):
        return frozen_weight(self, name, value)

    def call(self, features, training=False):
        x = tf.cast(features, tf.float32)
        for i, (matrix, bias) in enumerate(zip(self.kernels, self.biases, strict=True)):
            channels = x.shape[-1]
            batch = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]  # static if known
            frames = tf.shape(x)[1]
            # Pad 1 on each side, and one more at the end when needed for whole pairs.
            x = tf.pad(x, [[0, 0], [1, 1 + (frames % 2)], [0, 0]])
            pairs = tf.reshape(x, [batch, -1, 2 * channels])
            patches = tf.concat([pairs[:, :-1], pairs[:, 1:, :channels]], axis=-1)
            x = tf.matmul(patches, matrix) + bias
            if i < self.relu_blocks:
                x = tf.nn.relu(x)
        return tf.reduce_mean(x, axis=1)


def serving_graph(
    model: VoiceToFace, dft: str = "matmul", generator: str = "phase", encoder: str = "matmul"
) -> VoiceToFace:
    """A `VoiceToFace` with the same function as `model`, rewritten for the exported artifacts.

    Args:
        model: the Keras reference (what is not rewritten is shared, not copied).
        dft: the front end's `LogMelSpectrogram(dft=...)`: "fft" or "matmul".
        generator: "phase" (`PhaseGenerator`, for a reference generator; other generators are kept) or
            "keras" (the generator as it is).
        encoder: "matmul" (`MatmulEncoder`) or "keras" (the encoder as it is).
    """
    if generator not in ("phase", "keras"):
        raise ValueError(f"generator={generator!r}: choose 'phase' or 'keras'")
    if encoder not in ("matmul", "keras"):
        raise ValueError(f"encoder={encoder!r}: choose 'matmul' or 'keras'")
    faces = model.generator
    if generator == "phase" and getattr(faces, "upsample", None) == "transpose":
        faces = PhaseGenerator(faces, name="phase_generator")
    encoder = (
        MatmulEncoder(model.voice_encoder, name="matmul_encoder")
        if encoder == "matmul"
        else model.voice_encoder
    )
    graph = VoiceToFace(encoder, faces, model.audio, name=f"{model.name}_serving")
    graph.frontend = LogMelSpectrogram(model.audio, dft=dft, name="log_mel")
    graph.build(None)
    return graph
