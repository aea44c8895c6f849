"""Damaged inputs, drawn by hypothesis: every file a command reads, cut short, with its header edited or
bytes flipped, fed to the command that reads it.

Each example must end in the documented way: exit status 0 with a JSON summary last (the damage was
harmless, or the file was skipped and counted), or status 2 (bad input) with exactly one line on standard
error, `s2f CMD: error: ...`, and nothing on standard output; never status 1 (a bug, a traceback) or a
crash. Whatever happens, nothing outside the command's output folder changes. The commands run in this
process (`cli.main`; standard error read at the file descriptor, so TensorFlow's own lines would be
seen), on tiny inputs. Examples are few, derandomized (the same examples on every run, so a failure
reproduces) and without a deadline; the heavier targets are marked slow.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from s2f_tf import cli
from s2f_tf.commands.quiet import TF_LOG_LINE

PROGRESS = re.compile(r"\d+%\|")


def library_line(line: str) -> bool:
    """A line `s2f_tf.commands.quiet` keeps from the user (TensorFlow's, LiteRT's, libmpg123's)."""
    return bool(TF_LOG_LINE.match(line.encode()))


def fuzz(examples: int):
    """Settings of one fuzz test: `examples` derandomized examples, no deadline, no database (nothing
    is written to the repository)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@st.composite
def damaged(draw, data: bytes, header: int = 64) -> bytes:
    """`data` cut short, with (part of) its first `header` bytes overwritten, or with bytes flipped."""
    kind = draw(st.sampled_from(["truncate", "header", "flip"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    out = bytearray(data)
    if kind == "header":
        start = draw(st.integers(0, min(header, len(data)) - 1))
        patch = draw(st.binary(min_size=1, max_size=16))
        out[start : start + len(patch)] = patch
        return bytes(out[: max(len(data), start + len(patch))])
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        out[position] ^= draw(st.integers(1, 255))
    return bytes(out)


def _json_values():
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(), st.text(max_size=8)
    )
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=4)


@st.composite
def edited_json(draw, data: bytes) -> bytes:
    """A JSON document with one value replaced (anywhere in it), one key removed, or damaged bytes."""
    if draw(st.booleans()):
        return draw(damaged(data))
    document = json.loads(data)
    node, path = document, []
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        path.append(key)
        node = node[key]
    if not path:
        return json.dumps(draw(_json_values())).encode()
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(_json_values())
    return json.dumps(document).encode()


def _snapshot(*roots) -> dict:
    """Every file under `roots`: its bytes' hash and size (what must not change)."""
    import hashlib

    return {
        str(p): (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
        for root in roots
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


def run_checked(capfd, argv, command, untouched):
    """Run `s2f ARGS` here and check the documented outcome; returns the exit status."""
    capfd.readouterr()
    before = _snapshot(*untouched)
    status = cli.main([str(a) for a in argv])
    out, err = capfd.readouterr()
    # What the user sees: a real process passes standard error through the same filter (`quiet`).
    lines = [line for line in re.split(r"[\r\n]", err) if line.strip()]
    lines = [line for line in lines if not (PROGRESS.search(line) or library_line(line))]
    assert status in (0, 2), f"exit status {status}\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    if status == 0:
        assert isinstance(json.loads(out.strip().splitlines()[-1]), dict)
        assert all(line.startswith("warning: ") for line in lines), err[-3000:]
    else:
        assert out == "" and len(lines) == 1, err[-3000:]
        assert lines[0].startswith(f"s2f {command}: error: "), lines[0]
    assert _snapshot(*untouched) == before, "a file outside --out changed"
    return status


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder for each example's copies and outputs (emptied after each)."""
    return tmp_path_factory.mktemp("fuzz")


def _fresh(scratch) -> Path:
    return Path(tempfile.mkdtemp(dir=scratch))


# === Audio, as `s2f generate` reads it ===


class Files(dict):
    """{name: bytes}, shown by name only in hypothesis' report of a failing example."""

    def __repr__(self):
        return f"Files({sorted(self)})"


class Blob(bytes):
    """Bytes shown by their length in reports (a strategy's repr holds its arguments)."""

    def __repr__(self):
        return f"Blob({len(self)} bytes)"


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """A second of voice-like sound as WAV, FLAC and MP3: {format: bytes}."""
    from s2f_tf.serving.checks import check_clips

    wave = check_clips(16000, (16000,), seed=3)[0]
    encoded = Files()
    for name, fmt in (("wav", "WAV"), ("flac", "FLAC"), ("mp3", "MP3")):
        buffer = io.BytesIO()
        soundfile.write(buffer, wave, 16000, format=fmt)
        encoded[name] = Blob(buffer.getvalue())
    return encoded


@given(data=st.data())
@fuzz(examples=24)
def test_damaged_audio_to_generate(data, recordings, tiny_export, scratch, capfd):
    kind = data.draw(st.sampled_from(sorted(recordings)))
    folder = _fresh(scratch)
    try:
        audio = folder / "in" / f"voice.{kind}"
        audio.parent.mkdir()
        audio.write_bytes(data.draw(damaged(recordings[kind])))
        tflite = next(Path(tiny_export).glob("*.tflite"))
        argv = ["generate", "--model", tflite, "--wav", audio, "--no-vad"]
        argv += ["--out", folder / "out" / "face.png"]
        status = run_checked(capfd, argv, "generate", [audio.parent, tiny_export])
        assert (folder / "out" / "face.png").is_file() == (status == 0)
    finally:
        shutil.rmtree(folder)


# === Face images and recordings, as `s2f prepare` reads them ===


@pytest.fixture(scope="module")
def mini_corpus(tmp_path_factory):
    """Two synthetic identities (one trained, one held out), two recordings and faces each."""
    from s2f_tf.synth import corpus

    root = tmp_path_factory.mktemp("mini") / "corpus"
    corpus.generate(root, identities=3, utterances=2, faces=2, seed=1, workers=1)
    return root


@given(data=st.data())
@fuzz(examples=8)
def test_damaged_images_and_recordings_to_prepare(data, mini_corpus, scratch, capfd):
    folder = _fresh(scratch)
    try:
        corpus = folder / "corpus"
        shutil.copytree(mini_corpus, corpus)
        files = sorted(corpus.glob("faces/*/*.jpg")) + sorted(corpus.glob("wav/*/*/*.wav"))
        victim = data.draw(st.sampled_from(files))
        if victim.suffix == ".jpg" and data.draw(st.booleans()):  # also a PNG, as VGGFace has
            Image.open(victim).save(victim.with_suffix(".png"))
            victim.unlink()
            victim = victim.with_suffix(".png")
        victim.write_bytes(data.draw(damaged(Blob(victim.read_bytes()))))
        argv = ["prepare", "--meta", corpus / "vox1_meta.csv", "--voices", corpus / "wav"]
        argv += ["--faces", corpus / "faces", "--out", folder / "out", "--workers", "1"]
        run_checked(capfd, [*argv, "--min-frames", "40"], "prepare", [corpus])
    finally:
        shutil.rmtree(folder)


# === A prepared dataset (dataset.json, shards, their indexes), as `s2f train` reads it ===


def _train_on(capfd, data_dir, encoder, folder):
    argv = ["train", "--data", data_dir, "--workdir", folder / "work", "--preset", "tiny"]
    argv += ["--encoder", encoder, "--steps", "1", "--no-progress"]
    return run_checked(capfd, argv, "train", [data_dir, encoder.parent])


def _damage_dataset(data, tiny_dataset, folder, pattern, damage):
    source, encoder = tiny_dataset
    copy = folder / "data"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("judges", ".lock"))
    victim = data.draw(st.sampled_from(sorted(copy.glob(pattern))))
    victim.write_bytes(data.draw(damage(Blob(victim.read_bytes()))))
    return copy, encoder


@given(data=st.data())
@fuzz(examples=10)
def test_edited_dataset_json_to_train(data, tiny_dataset, scratch, capfd):
    folder = _fresh(scratch)
    try:
        copy, encoder = _damage_dataset(data, tiny_dataset, folder, "dataset.json", edited_json)
        _train_on(capfd, copy, encoder, folder)
    finally:
        shutil.rmtree(folder)


@pytest.mark.slow  # a training step per example; test_edited_dataset_json_to_train is the fast one
@pytest.mark.parametrize(
    "pattern", ["voices/train-*.tfrecord", "faces/train-*.tfrecord", "voices/train-*.index.npz"]
)
@given(data=st.data())
@fuzz(examples=2)
def test_damaged_shards_and_indexes_to_train(pattern, data, tiny_dataset, scratch, capfd):
    folder = _fresh(scratch)
    try:
        copy, encoder = _damage_dataset(data, tiny_dataset, folder, pattern, damaged)
        _train_on(capfd, copy, encoder, folder)
    finally:
        shutil.rmtree(folder)


# === A work directory (config.json, checkpoints), as `s2f export` reads it ===


@pytest.fixture(scope="module")
def random_workdir(tmp_path_factory):
    from random_workdir import write_random_workdir

    from s2f_tf.config import preset

    return write_random_workdir(tmp_path_factory.mktemp("fuzzwork") / "work", preset("tiny"), 1)


def _export(data, random_workdir, folder, pattern, damage, capfd):
    work = folder / "work"
    shutil.copytree(random_workdir, work)
    victim = data.draw(st.sampled_from(sorted(work.glob(pattern))))
    victim.write_bytes(data.draw(damage(Blob(victim.read_bytes()))))
    argv = ["export", "--workdir", work, "--out", folder / "out" / "m", "--tflite"]
    status = run_checked(capfd, argv, "export", [work])
    assert (folder / "out" / "m" / "1" / "saved_model.pb").is_file() == (status == 0)


@given(data=st.data())
@fuzz(examples=8)
def test_edited_config_json_to_export(data, random_workdir, scratch, capfd):
    folder = _fresh(scratch)
    try:
        _export(data, random_workdir, folder, "config.json", edited_json, capfd)
    finally:
        shutil.rmtree(folder)


@pytest.mark.slow  # an export per example; test_cli_errors has cut-short and outside checkpoints
@given(data=st.data())
@fuzz(examples=6)
def test_damaged_checkpoints_to_export(data, random_workdir, scratch, capfd):
    folder = _fresh(scratch)
    try:
        _export(data, random_workdir, folder, "checkpoints/*", damaged, capfd)
    finally:
        shutil.rmtree(folder)


def test_damage_strategies_damage(recordings):
    """The strategies change the bytes they are given (else the tests above would test nothing): each
    kind of damage is found (`find` raises NoSuchExample if not)."""
    from hypothesis import find

    data = Blob(recordings["wav"][:300])  # its header and some samples (short reports)
    assert len(find(damaged(data), lambda b: len(b) < len(data), settings=fuzz(50))) < len(data)
    for i in (0, 40, len(data) - 1):  # the header and the end, same length
        found = find(
            damaged(data),
            lambda b, i=i: len(b) == len(data) and b[i] != data[i],
            settings=fuzz(500),
        )
        assert found[i] != data[i]
    document = json.dumps({"a": {"b": [1, 2]}, "c": "x"}).encode()

    def structural(text):
        try:
            value = json.loads(text)
        except ValueError:
            return False
        return isinstance(value, dict) and value != json.loads(document)

    assert structural(find(edited_json(document), structural, settings=fuzz(100)))
