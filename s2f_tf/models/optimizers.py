"""The optimizer of the recipe: Adam with the reference's PyTorch settings, and the generator average."""

from __future__ import annotations

import keras
from keras import ops

from s2f_tf.config import TrainConfig


@keras.saving.register_keras_serializable(package="s2f_tf")
class Adam(keras.optimizers.Adam):
    """Keras Adam whose moving average of the variables (`use_ema`) can warm up.

    With `ema_warmup`, the momentum at update t (0-based) is min(ema_momentum, (1 + t) / (10 + t)), the
    schedule of `tf.train.ExponentialMovingAverage(num_updates=t)`: the average forgets the random initial
    weights within the first few hundred updates. Keras' constant momentum m keeps m ** t of them (13 % after
    2,000 updates at m = 0.999), which ruins the average of a short run. Update 0 copies the variables, as
    Keras does. Without `ema_warmup` this is `keras.optimizers.Adam`.
    """

    def __init__(self, *args, ema_warmup=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.ema_warmup = bool(ema_warmup)

    def _update_model_variables_moving_average(self, trainable_variables):
        if not (self.use_ema and self.ema_warmup):
            return super()._update_model_variables_moving_average(trainable_variables)
        step = ops.cast(self.iterations, "float32")
        momentum = ops.where(
            ops.equal(step, 0.0), 0.0, ops.minimum(self.ema_momentum, (1.0 + step) / (10.0 + step))
        )
        for var, average in zip(
            trainable_variables, self._model_variables_moving_average, strict=True
        ):
            if average is not None:
                m = ops.cast(momentum, var.dtype)
                average.assign(ops.add(ops.multiply(m, average), ops.multiply(1.0 - m, var)))

    def get_config(self):
        return {**super().get_config(), "ema_warmup": self.ema_warmup}


def adam(train: TrainConfig, ema_momentum: float = 0.0, ema_warmup: bool = False) -> Adam:
    """Adam with the reference's PyTorch settings (eps 1e-8, not Keras' 1e-7).

    `ema_momentum` > 0 also keeps Keras' exponential moving average of the variables it updates (never
    written back during training; `finalize_variable_values` swaps it in); `ema_warmup` ramps its momentum
    up (`Adam`).
    """
    return Adam(
        learning_rate=train.learning_rate,
        beta_1=train.beta_1,
        beta_2=train.beta_2,
        epsilon=train.epsilon,
        use_ema=ema_momentum > 0,
        ema_momentum=ema_momentum or 0.99,
        ema_warmup=ema_warmup,
    )


def generator_adam(train: TrainConfig) -> Adam:
    """The generator's optimizer: `adam` with the config's generator average (`train.generator_ema`,
    `train.generator_ema_warmup`)."""
    return adam(train, ema_momentum=train.generator_ema, ema_warmup=train.generator_ema_warmup)
