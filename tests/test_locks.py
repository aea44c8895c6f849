"""s2f_tf.locks: one trainer per work directory, locks that die with their process,
and temporary directories whose owner's death can be seen."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import pytest
import tensorflow as tf

from s2f_tf import cli
from s2f_tf.config import preset
from s2f_tf.data.prepare import PrepareOptions, prepare
from s2f_tf.locks import Busy, exclusive, hold_directory, remove_stale
from s2f_tf.models import VoiceEncoder
from s2f_tf.synth import corpus
from s2f_tf.train.cluster import writes_workdir

HOLD = """
import sys, time
from s2f_tf.locks import exclusive, hold_directory
if sys.argv[1] == "file":
    with exclusive(sys.argv[2], "train"):
        print("held", flush=True)
        time.sleep(600)
else:
    fd = hold_directory(sys.argv[2])
    print("held", flush=True)
    time.sleep(600)
"""


def _holder(kind, path):
    """A process that locks `path` and sleeps; returns once the lock is held."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, kind, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    return process


def _kill_9(process):
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_a_second_holder_is_refused_with_the_first_named(tmp_path):
    lock = tmp_path / ".lock"
    with exclusive(lock, "train"):
        with pytest.raises(Busy, match=rf"in use by s2f train \(pid {os.getpid()} on "):
            with exclusive(lock, "pretrain-voice"):
                pass
    with exclusive(lock, "pretrain-voice"):  # released at the end of the block
        assert json.loads(lock.read_text())["command"] == "pretrain-voice"
    assert lock.exists()  # never deleted (see the module docstring)


def test_kill_9_releases_the_lock(tmp_path):
    lock = tmp_path / ".lock"
    holder = _holder("file", lock)
    try:
        with pytest.raises(Busy, match=f"pid {holder.pid}"):
            with exclusive(lock, "train"):
                pass
    finally:
        _kill_9(holder)
    with exclusive(lock, "train"):
        pass


def test_remove_stale_takes_only_directories_of_dead_processes(tmp_path):
    dead, alive, mine = tmp_path / "dead", tmp_path / "alive", tmp_path / "mine"
    for folder in (dead, alive, mine):
        folder.mkdir()
        (folder / "file").write_text("x")
    killed = _holder("dir", dead)
    _kill_9(killed)
    holder = _holder("dir", alive)
    held = hold_directory(mine)  # this process's own
    try:
        assert remove_stale([dead, alive, mine, tmp_path / "missing"]) == [dead]
        assert not dead.exists() and (alive / "file").exists() and (mine / "file").exists()
    finally:
        _kill_9(holder)
        os.close(held)
    assert remove_stale([alive, mine]) == [alive, mine]


@pytest.mark.parametrize(
    "tf_config, writes",
    [
        (None, True),
        ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, True),
        ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, False),
        ({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "chief"}}, True),
        (
            {
                "cluster": {"chief": ["a:1"], "worker": ["b:1"]},
                "task": {"type": "worker", "index": 0},
            },
            False,
        ),
    ],
)
def test_only_the_chief_takes_the_work_directory(tf_config, writes, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config) if tf_config else "")
    assert writes_workdir() is writes


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A prepared tiny dataset and random voice encoder weights: what `s2f train` needs."""
    root = tmp_path_factory.mktemp("lockdata")
    corpus.generate(root / "corpus", identities=8, utterances=3, faces=2, seed=11, workers=1)
    prepare(
        PrepareOptions(
            meta=str(root / "corpus" / "vox1_meta.csv"),
            voices=str(root / "corpus" / "wav"),
            faces=str(root / "corpus" / "faces"),
            out=str(root / "data"),
            min_frames=40,
            workers=1,
        )
    )
    config = preset("tiny")
    keras.utils.set_random_seed(0)
    encoder = VoiceEncoder.from_model_config(config.model, name="voice_encoder")
    encoder.build((None, None, config.audio.num_mel_bins))
    encoder.save_weights(str(root / "encoder.weights.h5"))
    return root / "data", root / "encoder.weights.h5"


def test_a_second_s2f_train_is_refused_and_kill_9_frees_the_workdir(dataset, tmp_path, capsys):
    data, encoder = dataset
    workdir = tmp_path / "work"
    common = ["--data", str(data), "--workdir", str(workdir), "--preset", "tiny", "--no-progress"]
    argv = ["train", *common, "--encoder", str(encoder)]
    first = subprocess.Popen(
        [sys.executable, "-m", "s2f_tf", *argv, "--steps", "100000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not list(workdir.glob("checkpoints/ckpt-*.index")):
            assert first.poll() is None, "the first trainer stopped"
            time.sleep(0.5)
        assert list(workdir.glob("checkpoints/ckpt-*.index")), "no checkpoint before the deadline"
        for second in (argv, ["pretrain-voice", *common]):
            assert cli.main([*second, "--steps", "3"]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and f"is in use by s2f train (pid {first.pid} " in err[0], err
    finally:
        _kill_9(first)
    steps = int(tf.train.latest_checkpoint(str(workdir / "checkpoints")).rsplit("-", 1)[1])
    # The lock died with its process: a new trainer takes the directory and resumes (no step is left
    # to run at the same length, which keeps this test short).
    assert cli.main([*argv, "--steps", str(steps)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["resumed_from"] == steps and summary["steps_this_run"] == 0
    # --encoder's weights are kept in the work directory, where evaluate and export read them.
    assert (workdir / "voice_encoder.weights.h5").read_bytes() == encoder.read_bytes()


def test_a_filesystem_without_locks_warns_and_still_works(tmp_path, monkeypatch, capsys):
    import errno

    import s2f_tf.locks as locks
    from s2f_tf.files import atomic_directory

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(locks.fcntl, "flock", no_locks)
    with exclusive(tmp_path / ".lock", "train"):
        pass
    assert "cannot lock files (No locks available)" in capsys.readouterr().err
    with atomic_directory(tmp_path / "out") as staging:
        (staging / "file").write_text("x")
    assert (tmp_path / "out" / "file").is_file()
    stale = tmp_path / ".1.old.tmp"
    stale.mkdir()
    assert remove_stale([stale]) == [] and stale.is_dir()  # cannot tell: kept


WRITE = """
import os, sys, time
from s2f_tf import files
def stop(fd):
    print("writing", flush=True)
    time.sleep(600)
os.fsync = stop  # the writer stops with its temporary file written, before the rename
if sys.argv[1] == "file":
    files.atomic_write_text(sys.argv[2], "new")
else:
    with files.atomic_directory(sys.argv[2]) as tmp:
        stop(None)
"""


def _writer(kind, path):
    """A process in the middle of an atomic write of `path` (a file or a directory)."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITE, kind, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "writing"
    return process


def _temporaries(path):
    return sorted(path.parent.glob(f".{path.name}.*.tmp*"))


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_an_atomic_write_removes_what_killed_writers_left_and_keeps_live_ones(kind, tmp_path):
    """Temporary files and folders of atomic writes that a `kill -9` left are removed by the next
    atomic write of the same name; one a live writer holds is kept."""
    from s2f_tf.files import atomic_directory, atomic_write_text

    target = tmp_path / ("config.json" if kind == "file" else "corpus")
    killed = _writer(kind, target)
    (left,) = _temporaries(target)
    _kill_9(killed)
    live = _writer(kind, target)
    try:
        (held,) = set(_temporaries(target)) - {left}
        if kind == "file":
            atomic_write_text(target, "mine")
            assert target.read_text() == "mine"
        else:
            with atomic_directory(target) as staging:
                (staging / "file").write_text("mine")
            assert (target / "file").read_text() == "mine"
        assert _temporaries(target) == [held]  # the dead writer's is gone, the live one's kept
    finally:
        _kill_9(live)
