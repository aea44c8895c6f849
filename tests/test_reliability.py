"""The reliability cases that need more than one command line (docs/reliability.md): untrusted meta
files, damaged checkpoints and a full disk.

Where the other cases are tested:
  --out is a directory / a file, a cut-short SavedModel, config.json, argument ranges:
      tests/test_cli_errors.py, the table (ids generate-out-is-directory, generate-model-cut-short,
      *-config-*, *-steps-0, prepare-image-size-0, train-data-other-size, ...)
  non-finite audio (SavedModel and TFLite), a killed export's leftovers: tests/test_export.py
  one trainer per work directory, kill -9: tests/test_locks.py
"""

import json
import shutil

import pytest
import soundfile
import tensorflow as tf
from conftest import prepare_options, s2f_process
from random_workdir import write_random_workdir
from test_cli import own_lines
from train_worker import NUM_CLASSES, toy_dataset_fn

from s2f_tf.config import preset
from s2f_tf.data.prepare import prepare
from s2f_tf.serving.checks import check_clips
from s2f_tf.serving.export import export
from s2f_tf.synth import corpus
from s2f_tf.train import loop
from s2f_tf.train.checkpoints import Checkpoints, DamagedCheckpoints


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("rel") / "corpus"
    corpus.generate(out, identities=8, utterances=3, faces=2, seed=11, workers=1)
    return out


# === Case 2: names from the meta file cannot reach outside --voices and --faces ===


def test_meta_rows_cannot_reach_outside_the_given_folders(small_corpus, tmp_path):
    root = tmp_path / "corpus"
    shutil.copytree(small_corpus, root)
    some_id = sorted(p.name for p in (root / "wav").iterdir())[0]
    some_name = sorted(p.name for p in (root / "faces").iterdir())[0]
    # Real voices and faces beside the given folders, where `..` in a meta row leads.
    shutil.copytree(root / "wav" / some_id, root / "escape_voices")
    shutil.copytree(root / "faces" / some_name, root / "escape_faces")
    shutil.copytree(root / "wav" / some_id, root / "wav" / "id90000")
    with open(root / "vox1_meta.csv", "a") as meta:
        meta.write("../escape_voices\tFrank_Escape\tm\tX\tdev\n")  # voices from outside
        meta.write("id90000\t../escape_faces\tm\tX\tdev\n")  # faces from outside
        meta.write(f"{root}/wav/{some_id}\tGus_Absolute\tm\tX\tdev\n")  # an absolute path
    summary = prepare(prepare_options(root, tmp_path / "data", min_frames=40))
    assert summary["skipped"]["identities"]["unsafe_meta_row"] == 3
    dataset = json.loads((tmp_path / "data" / "dataset.json").read_text())
    names = [n for split in dataset["splits"].values() for n in split["names"]]
    assert "../escape_faces" not in names and "Frank_Escape" not in names
    assert "Gus_Absolute" not in names
    assert all("/" not in identity["id"] for identity in dataset["identities"].values())


# === Case 3: when no checkpoint can be restored, training refuses and keeps them ===


def _snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_all_damaged_checkpoints_stop_training_and_are_kept(tmp_path):
    config = preset("tiny").replace(train={"checkpoint_every": 1})
    strategy = tf.distribute.get_strategy()
    loop.train_gan(
        config, tmp_path, toy_dataset_fn(4), NUM_CLASSES, strategy, steps=2, progress=False
    )
    checkpoints = tmp_path / "checkpoints"
    for data in checkpoints.glob("ckpt-*.data-*"):
        data.write_bytes(data.read_bytes()[:100])  # every checkpoint cut short
    evidence = _snapshot(checkpoints)
    with pytest.raises(
        DamagedCheckpoints,
        match=r"no checkpoint can be restored \(ckpt-2: \w+; ckpt-1: \w+\); nothing was changed",
    ):
        loop.train_gan(
            config, tmp_path, toy_dataset_fn(4), NUM_CLASSES, strategy, steps=4, progress=False
        )
    assert _snapshot(checkpoints) == evidence


def _variables_checkpoints(directory, count=2):
    value = tf.Variable(0.0)
    checkpoints = Checkpoints(directory, value=value)
    for step in range(1, count + 1):
        value.assign(float(step))
        checkpoints.save(step)
    return value, checkpoints


GARBLED_INDEX = {  # what a damaged `checkpoint` index file may hold
    "text": b"garbage {{{",  # TF then lists no checkpoint at all
    "binary": bytes(range(128, 256)) * 2,  # TF: UnicodeDecodeError
    "empty": b"",  # TF: ValueError, no model_checkpoint_path
    "cut-short": b'model_checkpoint_path: "ckpt',
    "names-a-missing-one": b'model_checkpoint_path: "ckpt-9"\nall_model_checkpoint_paths: "ckpt-9"\n',
}


@pytest.mark.parametrize("content", GARBLED_INDEX.values(), ids=GARBLED_INDEX)
def test_a_garbled_index_file_falls_back_to_the_checkpoint_files_quietly(content, tmp_path, caplog):
    """Training resumes from the newest checkpoint file and its next save writes a good index file;
    evaluate and export take the newest checkpoint file; TensorFlow logs nothing about it."""
    from s2f_tf.workdir import latest_checkpoint

    _variables_checkpoints(tmp_path / "checkpoints")
    index = tmp_path / "checkpoints" / "checkpoint"
    index.write_bytes(content)
    with caplog.at_level("WARNING", logger="tensorflow"):
        assert latest_checkpoint(tmp_path) == str(tmp_path / "checkpoints" / "ckpt-2")
        value = tf.Variable(-1.0)
        checkpoints = Checkpoints(tmp_path / "checkpoints", value=value)
        assert checkpoints.restore().endswith("ckpt-2") and value.numpy() == 2.0
        assert index.read_bytes() == content  # nothing changed before a save
        checkpoints.save(3)
    assert caplog.records == []
    assert tf.train.get_checkpoint_state(str(index.parent)).all_model_checkpoint_paths == [
        str(index.parent / name) for name in ("ckpt-1", "ckpt-2", "ckpt-3")
    ]


def test_an_index_file_naming_a_checkpoint_elsewhere_is_not_followed(tmp_path):
    _variables_checkpoints(tmp_path / "elsewhere")
    _variables_checkpoints(tmp_path / "here", count=1)
    (tmp_path / "here" / "checkpoint").write_text(
        f'model_checkpoint_path: "{tmp_path}/elsewhere/ckpt-2"\n'
        f'all_model_checkpoint_paths: "{tmp_path}/elsewhere/ckpt-2"\n'
    )
    value = tf.Variable(-1.0)
    restored = Checkpoints(tmp_path / "here", value=value).restore()
    assert restored == str(tmp_path / "here" / "ckpt-1") and value.numpy() == 1.0


# === Case 9: a full disk is one line saying so and what was kept; nothing half-written ===


def _error_line(err):
    """The one error line (progress bars aside), which must be the last line; no traceback."""
    lines = own_lines(err)
    errors = [line for line in lines if ": error: " in line]
    assert "Traceback" not in err and len(errors) == 1 and lines[-1] == errors[0], err
    return errors[0]


@pytest.mark.slow  # three processes that each start TensorFlow
def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(small_corpus, tmp_path):
    workdir = write_random_workdir(tmp_path / "work", preset("tiny"), seed=2)
    export(
        workdir, tmp_path / "models" / "m", quantizations=(), check_samples=(200,), progress=False
    )
    wav = tmp_path / "voice.wav"
    soundfile.write(wav, check_clips(16000, (16000,), seed=1)[0], 16000, subtype="PCM_16")
    png, base, data = tmp_path / "out" / "faces.png", tmp_path / "full" / "m", tmp_path / "data"
    runs = {  # command -> (argv, file-size limit in bytes, what the line must say was kept)
        "generate": (
            ["generate", "--model", tmp_path / "models" / "m" / "1", "--wav", wav, "--no-vad"]
            + ["--out", png],
            1024,
            "images written before are complete",
        ),
        "export": (
            ["export", "--workdir", workdir, "--out", base, "--tflite"],
            20_000,
            "no version was published",
        ),
        "prepare": (
            ["prepare", "--meta", small_corpus / "vox1_meta.csv", "--voices", small_corpus / "wav"]
            + ["--faces", small_corpus / "faces", "--out", data, "--workers", "1"]
            + ["--min-frames", "40"],
            2048,
            "finished shards are kept and a rerun resumes",
        ),
    }
    processes = {
        name: s2f_process(*argv, limit_bytes=limit, env={"TQDM_DISABLE": "1"})
        for name, (argv, limit, _) in runs.items()
    }
    for name, process in processes.items():
        _, err = process.communicate(timeout=600)
        line = _error_line(err)
        assert process.returncode == 1, err
        assert line.startswith(f"s2f {name}: error: out of disk space (File too large)"), line
        assert runs[name][2] in line
    assert not png.exists() and not list(png.parent.glob(".*"))
    assert not (base.exists() and list(base.iterdir()))  # no version, no temporary directory
    assert not (data / "dataset.json").exists() and not list(data.glob("*/[!.]*.tfrecord"))
