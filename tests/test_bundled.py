"""The model shipped inside the package (s2f_tf/bundled, built by export/build_bundled.py): its files, that
it still draws the faces recorded when it was built, and that `generate` runs it without TensorFlow."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from s2f_tf import bundled

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_files_are_there_small_and_free_of_build_paths():
    assert bundled.MODEL.is_file(), "rebuild with python export/build_bundled.py"
    assert bundled.MODEL.stat().st_size <= 5 * 1024 * 1024
    for name in ("config.json", "export_report.json", "metrics.json", "report.md"):
        text = (bundled.FOLDER / name).read_text()
        assert "/tmp/" not in text and "/work/" not in text and "/home/" not in text, name
    config = json.loads((bundled.FOLDER / "config.json").read_text())
    assert config["preset"] == "small"
    assert config["tflite"]["files"] == {"fp32": bundled.MODEL.name}
    assert config["config"]["train"]["mixed_precision"] is False  # built in float32
    metrics = json.loads((bundled.FOLDER / "metrics.json").read_text())
    assert all(c["passed"] for c in metrics["proof_of_learning"])
    assert metrics["model"]["splits"]["unseen"]["trained"]["matching"]["value"] > 0.6


def test_it_reproduces_the_faces_recorded_when_it_was_built():
    from s2f_tf.serving.inference import load_model

    reference = np.load(bundled.REFERENCE)
    model = load_model(bundled.NAME, num_threads=1)
    assert len(reference["names"]) == 4
    for waveform, face_float, face in zip(
        reference["waveforms"], reference["face_float"], reference["face"], strict=True
    ):
        out = model(waveform.astype(np.float32) / 32768.0)
        assert out["face"].shape == (64, 64, 3) and out["face"].dtype == np.uint8
        # LiteRT's kernels differ by instruction set (AVX2 / AVX-512) in the last bits only
        np.testing.assert_allclose(out["face_float"], face_float, atol=2e-3)
        assert np.abs(out["face"].astype(int) - face).max() <= 1
    # the clips are different voices: different faces
    assert np.abs(reference["face_float"][0] - reference["face_float"][1]).mean() > 0.02


def test_generate_uses_it_without_tensorflow_when_no_model_is_given(tmp_path):
    reference = np.load(bundled.REFERENCE)
    soundfile.write(tmp_path / "voice.wav", reference["waveforms"][0], 16000, subtype="PCM_16")
    script = (
        "import sys; from s2f_tf.cli import main;"
        " status = main(['generate', '--wav', 'voice.wav', '--out', 'face.png']);"
        " print('TF_IMPORTED' if 'tensorflow' in sys.modules else 'NO_TF'); sys.exit(status)"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "NO_TF"
    assert "using the bundled model" in run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-2])
    assert Path(summary["model"]) == bundled.MODEL
    assert (tmp_path / "face.png").stat().st_size > 1000


def test_a_missing_bundle_is_one_line(monkeypatch, tmp_path):
    from s2f_tf.errors import S2FError
    from s2f_tf.serving.inference import resolve_model_path

    monkeypatch.setattr(bundled, "MODEL", tmp_path / "absent.tflite")
    with pytest.raises(S2FError, match="bundled model is missing.*build_bundled.py"):
        resolve_model_path("bundled")


@pytest.mark.slow
def test_the_wheel_carries_the_bundle(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    (wheel,) = tmp_path.glob("s2f_tf-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (bundled.MODEL.name, "config.json", "reference.npz", "metrics.json"):
        assert f"s2f_tf/bundled/{name}" in names


def test_the_app_names_it_without_a_path():
    from s2f_tf.serving.face_app import FaceApp
    from s2f_tf.serving.inference import load_model

    assert FaceApp(load_model(bundled.NAME)).describe() == f"bundled: {bundled.DESCRIPTION}"
