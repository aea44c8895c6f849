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


def prepare_small_corpus(root, seed, identities=6, utterances=3, faces=2, min_frames=40):
    """Synthesise a small corpus under `root` and prepare it (one process); returns the data dir."""
    from s2f_tf.data import prepare as prep
    from s2f_tf.synth import corpus

    corpus.generate(
        root / "corpus",
        identities=identities,
        utterances=utterances,
        faces=faces,
        seed=seed,
        workers=1,
    )
    prep.prepare(
        prep.PrepareOptions(
            meta=str(root / "corpus" / "vox1_meta.csv"),
            voices=str(root / "corpus" / "wav"),
            faces=str(root / "corpus" / "faces"),
            out=str(root / "data"),
            min_frames=min_frames,
            workers=1,
        )
    )
    return root / "data"
