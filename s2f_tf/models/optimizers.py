"""The optimizer of the recipe: Adam with the reference's PyTorch settings."""

from __future__ import annotations

import keras

from s2f_tf.config import TrainConfig


def adam(train: TrainConfig, ema_momentum: float = 0.0) -> keras.optimizers.Adam:
    """Adam with the reference's PyTorch settings (eps 1e-8, not Keras' 1e-7).

    `ema_momentum` > 0 also keeps Keras' exponential moving average of the variables it updates (never
    written back during training; `finalize_variable_values` swaps it in).
    """
    return keras.optimizers.Adam(
        learning_rate=train.learning_rate,
        beta_1=train.beta_1,
        beta_2=train.beta_2,
        epsilon=train.epsilon,
        use_ema=ema_momentum > 0,
        ema_momentum=ema_momentum or 0.99,
    )
