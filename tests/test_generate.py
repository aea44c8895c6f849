"""`s2f generate`: faces from audio files with a SavedModel or TFLite model, and its bad-input errors."""

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def model_dir(tiny_export):
    return tiny_export


@pytest.fixture
def audio(audio_files):
    return audio_files


def test_grid_from_savedmodel(model_dir, audio, tmp_path, s2f):
    out = tmp_path / "faces.png"
    run = s2f("generate", "--model", model_dir, "--wav", audio / "alice.wav", audio / "bob.flac",
              "--out", out)  # fmt: skip
    assert run.status == 0
    summary = run.summary
    assert summary["images"] == [str(out)] and summary["vad"] is True
    assert [round(i["seconds_used"], 1) for i in summary["inputs"]] == [1.5, 1.5]
    image = Image.open(out)
    assert image.size == (2 + 2 * (128 + 2), 2 + 128 + 2 + 12) and image.mode == "RGB"


def test_separate_pngs_from_tflite_without_vad(model_dir, audio, tmp_path, s2f):
    out = tmp_path / "pngs"
    wavs = [audio / "alice.wav", audio / "quiet.wav", audio / "alice.wav"]
    run = s2f("generate", "--model", model_dir / "gen_fp32.tflite", "--wav", *wavs, "--out", out,
              "--separate", "--no-vad")  # fmt: skip
    assert run.status == 0
    assert sorted(p.name for p in out.iterdir()) == ["alice.png", "alice_1.png", "quiet.png"]
    first = np.asarray(Image.open(out / "alice.png"))
    assert first.shape == (64, 64, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, np.asarray(Image.open(out / "alice_1.png")))


def test_savedmodel_and_tflite_give_the_same_face(model_dir, audio, tmp_path, s2f):
    faces = []
    for model in (model_dir, model_dir / "gen_fp32.tflite"):
        out = tmp_path / model.name
        run = s2f(
            "generate", "--model", model, "--wav", audio / "bob.flac", "--out", out, "--separate"
        )
        assert run.status == 0
        faces.append(np.asarray(Image.open(out / "bob.png"), np.int16))
    assert np.abs(faces[0] - faces[1]).max() <= 1


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "no such file"),
        ("not_audio", "not a readable audio file"),
        ("silence", "no speech detected"),
        ("empty", "no input files"),
        ("bad_model", "no such model"),
        ("not_a_model", "not a .tflite file"),
        ("grid_not_png", "written as .png"),
    ],
)
def test_bad_input_is_one_line_exit_2(case, message, model_dir, audio, tmp_path, s2f):
    wavs = {
        "missing": [audio / "nobody.wav"],
        "not_audio": [audio / "alice.wav", audio / "notes.wav"],
        "silence": [audio / "quiet.wav"],
        "empty": [],
    }.get(case, [audio / "alice.wav"])
    model = {"bad_model": tmp_path / "nowhere", "not_a_model": audio / "alice.wav"}.get(
        case, model_dir
    )
    out = tmp_path / ("faces.jpg" if case == "grid_not_png" else "faces.png")
    code, stdout, stderr = s2f("generate", "--model", model, "--wav", *wavs, "--out", out)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("s2f generate: error:")
    assert "Traceback" not in stderr and stdout == ""
    assert not out.exists()


def test_grid_labels_tell_repeated_file_names_apart():
    from s2f_tf.commands.generate import _labels

    assert _labels(["c/id1/v1/00001.wav", "c/id2/v7/00001.wav"]) == ["id1/00001", "id2/00001"]
    assert _labels(["a/x.wav", "b/y.flac"]) == ["x", "y"]
