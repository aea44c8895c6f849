"""Test set-up: quiet TensorFlow, two logical CPU devices (for real MirroredStrategy tests), tiny preset.

The logical devices must be configured before anything initialises TensorFlow, so it happens here, at
import time of the test session (TF-NOTES item 4).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# No test downloads anything (FID's Inception weights); the tests of the download mock it.
os.environ["S2F_NO_DOWNLOAD"] = "1"

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


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    """A random `tiny` model exported once per session (SavedModel + `gen_fp32.tflite`): its version
    directory. The generator's output gain gives its faces contrast, so pixel comparisons mean something."""
    from s2f_tf.config import preset
    from s2f_tf.serving.export import export
    from s2f_tf.serving.testing import write_random_workdir

    workdir = write_random_workdir(
        tmp_path_factory.mktemp("work"), preset("tiny"), seed=3, output_gain=1000.0
    )
    base = tmp_path_factory.mktemp("savedmodels") / "gen"
    export(workdir, base, quantizations=("fp32",), check_samples=(200, 8000), progress=False)
    return base / "1"


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory):
    """Audio inputs: `alice.wav` (voice-like, mono 16 kHz), `bob.flac` (stereo 44.1 kHz), `speech.wav`
    (synthetic speech with pauses and silence around it, 22.05 kHz), `quiet.wav` (silence), `short.wav`
    (10 ms of voice), `notes.wav` (a text file)."""
    import numpy as np
    import soundfile

    from s2f_tf.serving.export import check_clips
    from s2f_tf.synth.voices import Recording, VoiceTraits, synthesize

    root = tmp_path_factory.mktemp("audio")
    voice, other = (
        check_clips(16000, (24000, 1), seed=5)[0],
        check_clips(44100, (66150,), seed=6)[0],
    )
    soundfile.write(root / "alice.wav", voice, 16000, subtype="PCM_16")
    soundfile.write(root / "bob.flac", np.stack([other, 0.8 * other], axis=1), 44100)
    speech = synthesize(
        VoiceTraits(f0=190.0, vocal_tract_cm=15.0), Recording(seconds=2.0), np.random.default_rng(1)
    )
    soundfile.write(root / "speech.wav", speech, 16000, subtype="PCM_16")
    soundfile.write(root / "quiet.wav", np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    soundfile.write(root / "short.wav", voice[:160], 16000, subtype="PCM_16")
    (root / "notes.wav").write_text("this is not audio\n")
    return root
