"""Checks written once and applied to every model, in the spirit of keras-hub's `TestCase`
(`run_layer_test`, `run_serialization_test`, `run_model_saving_test`): a model's test is a few lines.
"""

from __future__ import annotations

import keras
import numpy as np


def outputs(model, x):
    """The model's outputs on `x` as numpy (a dict of outputs stays a dict)."""
    y = model(x, training=False) if _takes_training(model) else model(x)
    if isinstance(y, dict):
        return {k: np.asarray(v) for k, v in y.items()}
    return np.asarray(y)


def _takes_training(model) -> bool:
    import inspect

    return "training" in inspect.signature(model.call).parameters


def assert_same_outputs(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    else:
        np.testing.assert_array_equal(a, b)


def run_layer_test(model, x, expected_shape, expected_dtype="float32"):
    """One call on `x`: the output shape and dtype, and `compute_output_shape` where it is defined."""
    y = model(x)
    assert tuple(y.shape) == tuple(expected_shape)
    assert y.dtype == expected_dtype
    try:
        shape = model.compute_output_shape(tuple(x.shape))
    except NotImplementedError:
        return
    assert tuple(s for s in shape) == tuple(expected_shape)


def run_serialization_test(model, x):
    """get_config -> from_config and serialize -> deserialize give the same config; with the weights
    copied across, the same outputs."""
    config = model.get_config()
    restored = type(model).from_config(config)
    restored(x)  # builds it
    assert restored.get_config() == config
    assert [tuple(w.shape) for w in restored.weights] == [tuple(w.shape) for w in model.weights]
    restored.set_weights(model.get_weights())
    assert_same_outputs(outputs(restored, x), outputs(model, x))
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert isinstance(again, type(model)) and again.get_config() == config


def run_model_saving_test(model, x, tmp_path):
    """A `.keras` file saved and loaded back gives the same outputs."""
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, type(model))
    assert_same_outputs(outputs(loaded, x), outputs(model, x))
