"""Spectral normalisation (Miyato et al. 2018) of a convolution, with distribution-safe state."""

import keras
from keras import ops


def _unit(x, eps=1e-12):
    return x / ops.sqrt(ops.sum(ops.square(x)) + eps)


@keras.saving.register_keras_serializable(package="s2f_tf")
class SpectralConv2D(keras.layers.Conv2D):
    """A `Conv2D` whose kernel is divided by its largest singular value.

    The kernel, reshaped to `[k * k * in, out]`, has its spectral norm estimated by one power iteration
    per training call from a persistent unit vector `u` (not trained; averaged over replicas, so it
    updates in a replica context under `tf.distribute`). Outside training `u` is used as it is. Gradients
    flow through sigma with `u` and `v` held constant, as in the paper.

    Example:
    >>> conv = SpectralConv2D(4, 3)
    >>> conv(ops.zeros([1, 8, 8, 2])).shape
    (1, 6, 6, 4)
    """

    def build(self, input_shape):
        super().build(input_shape)
        self.u = self.add_weight(
            shape=(1, self.filters),
            initializer=keras.initializers.RandomNormal(),
            trainable=False,
            autocast=False,
            aggregation="mean",
            dtype="float32",
            name="u",
        )

    def normalized_kernel(self, training=False):
        """The kernel divided by its spectral-norm estimate (updating `u` when `training`)."""
        kernel = ops.convert_to_tensor(self.kernel)
        matrix = ops.reshape(ops.cast(kernel, "float32"), (-1, self.filters))
        u = _unit(ops.convert_to_tensor(self.u))
        v = ops.stop_gradient(_unit(ops.matmul(u, ops.transpose(matrix))))
        u = ops.stop_gradient(_unit(ops.matmul(v, matrix)))
        sigma = ops.sum(ops.matmul(v, matrix) * u)
        if training:
            self.u.assign(u)
        return ops.cast(ops.cast(kernel, "float32") / sigma, kernel.dtype)

    def _own_variables(self):
        return [self.kernel] + ([self.bias] if self.use_bias else []) + [self.u]

    def save_own_variables(self, store):
        if self.built:
            for i, variable in enumerate(self._own_variables()):
                store[str(i)] = variable

    def load_own_variables(self, store):
        own = self._own_variables()
        if len(store) != len(own):
            raise ValueError(
                f"layer {self.name!r} expects {len(own)} variables (kernel, bias, u), got {len(store)}"
            )
        for i, variable in enumerate(own):
            variable.assign(store[str(i)])

    def call(self, inputs, training=False):
        outputs = self.convolution_op(inputs, self.normalized_kernel(training))
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        if self.activation is not None:
            return self.activation(outputs)
        return outputs
