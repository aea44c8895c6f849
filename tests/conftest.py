"""Test set-up: quiet TensorFlow, two logical CPU devices (for real MirroredStrategy tests), tiny preset.

The logical devices must be configured before anything initialises TensorFlow, so it happens here, at
import time of the test session (TF-NOTES item 4).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)


@pytest.fixture
def tiny_config():
    from s2f_tf.config import preset

    return preset("tiny")
