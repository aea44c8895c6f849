"""Test set-up: quiet TensorFlow, two logical CPU devices (for real MirroredStrategy tests), tiny preset.

The logical devices must be configured before anything initialises TensorFlow, so it happens here, at
import time of the test session (docs/recipe.md, TensorFlow pitfall 4).
"""

import dataclasses
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# No test downloads anything (FID's Inception weights); the tests of the download mock it.
os.environ["S2F_NO_DOWNLOAD"] = "1"
# hypothesis (tests/test_fuzz_inputs.py) keeps its caches in the system's temporary folder, not in the
# repository.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "s2f_tf_hypothesis")
)

import pytest  # noqa: E402

import s2f_tf  # noqa: E402,F401 - before TensorFlow, as users run it: oneDNN on (s2f_tf.onednn)

# TensorFlow's start-up lines (written before absl's logging starts, whatever TF_CPP_MIN_LOG_LEVEL says)
# would otherwise reach the terminal after the summary of every pytest-xdist worker.
_stderr, _devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
os.dup2(_devnull, 2)
os.close(_devnull)
try:
    # isort: split
    import tensorflow as tf  # noqa: E402
finally:
    os.dup2(_stderr, 2)
    os.close(_stderr)

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)


@dataclasses.dataclass
class CliRun:
    """What one `s2f` run gave: its exit status and what it printed."""

    status: int
    out: str
    err: str

    def __iter__(self):  # status, out, err = s2f(...)
        return iter((self.status, self.out, self.err))

    @property
    def summary(self) -> dict:
        """The JSON summary, the last line of standard output."""
        return json.loads(self.out.strip().splitlines()[-1])


@pytest.fixture
def s2f(capsys):
    """`s2f(*args)` runs `s2f ARGS` in this process (`s2f_tf.cli.main`): a CliRun."""
    from s2f_tf import cli

    def run(*args) -> CliRun:
        status = cli.main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliRun(status, captured.out, captured.err)

    return run


def s2f_process(*args, limit_bytes=None, env=None, cwd=None) -> subprocess.Popen:
    """`s2f ARGS` in its own process (TensorFlow's C++ logging quiet), stdout and stderr piped as text;
    optionally with a file-size limit (a full disk, as `ulimit -f`) and in folder `cwd`."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, resource.RLIM_INFINITY))

    return subprocess.Popen(
        [sys.executable, "-m", "s2f_tf", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
        preexec_fn=limit if limit_bytes else None,
        cwd=cwd,
    )


def s2f_run(*args, timeout=300, limit_bytes=None, env=None, cwd=None) -> CliRun:
    """`s2f ARGS` in its own process, waited for: a CliRun."""
    process = s2f_process(*args, limit_bytes=limit_bytes, env=env, cwd=cwd)
    out, err = process.communicate(timeout=timeout)
    return CliRun(process.returncode, out, err)


# `s2f demo` at the tiny size: how the suite runs the README's first command line
# (tests/test_documented_commands.py), whose run tests/test_demo.py goes on with.
TINY_DEMO = (
    "demo --out demo_out --preset tiny --identities 8 --utterances 3 --faces 3"
    " --pretrain-steps 4 --train-steps 4 --classifier-steps 5"
)


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """(folder, CliRun): `s2f TINY_DEMO` run once per session as its own process in `folder` (its
    paths are relative: demo_out/, savedmodels/s2f_demo/). Read only: copy the folder to change it."""
    import shlex

    folder = tmp_path_factory.mktemp("tiny_demo")
    run = s2f_run(*shlex.split(TINY_DEMO), timeout=900, env={"TQDM_DISABLE": "1"}, cwd=folder)
    return folder, run


@pytest.fixture
def tiny_config():
    from s2f_tf.config import preset

    return preset("tiny")


def prepare_options(corpus_root, out, **overrides):
    """`PrepareOptions` for a corpus written by `s2f_tf.synth.corpus.generate` (one process)."""
    from s2f_tf.data.prepare import PrepareOptions

    return PrepareOptions(
        meta=str(corpus_root / "vox1_meta.csv"),
        voices=str(corpus_root / "wav"),
        faces=str(corpus_root / "faces"),
        out=str(out),
        **{"workers": 1, **overrides},
    )


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
    prep.prepare(prepare_options(root / "corpus", root / "data", min_frames=min_frames))
    return root / "data"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """(data dir, voice encoder weights): a prepared tiny corpus (8 synthetic identities, 3 utterances
    and 2 faces each) and random `tiny` voice encoder weights, made once per session: what `s2f train`
    needs. Read only: copy what a test changes."""
    import keras

    from s2f_tf.config import preset
    from s2f_tf.models import build_voice_encoder

    root = tmp_path_factory.mktemp("tiny_dataset")
    data = prepare_small_corpus(root, seed=11, identities=8)
    keras.utils.set_random_seed(0)
    encoder = build_voice_encoder(preset("tiny"))
    encoder.save_weights(str(root / "encoder.weights.h5"))
    return data, root / "encoder.weights.h5"


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    """A random `tiny` model exported once per session (SavedModel + `gen_fp32.tflite`): its version
    directory. The generator's output gain gives its faces contrast, so pixel comparisons mean something."""
    from random_workdir import write_random_workdir

    from s2f_tf.config import preset
    from s2f_tf.serving.export import export

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

    from s2f_tf.serving.checks import check_clips
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
