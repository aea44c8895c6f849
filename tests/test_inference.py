"""s2f_tf.serving.inference: loading a SavedModel directory or a .tflite file and running it."""

import numpy as np
import pytest
from random_workdir import write_random_workdir

from s2f_tf.config import preset
from s2f_tf.errors import S2FError
from s2f_tf.serving.checks import check_clips
from s2f_tf.serving.export import export
from s2f_tf.serving.inference import (
    SavedModelFaces,
    TFLiteFaces,
    load_model,
    resolve_model_path,
)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    config = preset("tiny").replace(audio={"test_frames": 30})
    workdir = write_random_workdir(tmp_path_factory.mktemp("work"), config, seed=2)
    base = tmp_path_factory.mktemp("savedmodels") / "faces"
    export(workdir, base, quantizations=("fp32",), check_samples=(200, 8000), progress=False)
    return base


def test_resolve_model_path(base, tmp_path):
    assert resolve_model_path(base / "1") == base / "1"
    assert resolve_model_path(base) == base / "1"  # a base path means its highest version
    tflite = base / "1" / "faces_fp32.tflite"
    assert resolve_model_path(tflite) == tflite
    with pytest.raises(S2FError, match="no such model"):
        resolve_model_path(tmp_path / "missing")
    with pytest.raises(S2FError, match="no saved_model.pb"):
        resolve_model_path(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"x")
    with pytest.raises(S2FError, match="not a .tflite file"):
        resolve_model_path(tmp_path / "model.onnx")


def test_corrupt_tflite_is_a_clear_error(tmp_path):
    (tmp_path / "broken.tflite").write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(S2FError, match="not a usable TFLite model"):
        load_model(tmp_path / "broken.tflite")


def test_savedmodel_and_tflite_agree_and_read_the_contract(base):
    saved = load_model(base / "1")
    lite = load_model(base / "1" / "faces_fp32.tflite", num_threads=1)
    assert isinstance(saved, SavedModelFaces) and isinstance(lite, TFLiteFaces)
    for model in (saved, lite):
        assert model.sample_rate == 16000 and model.audio.test_frames == 30
    for samples in (100, 5000, 33333):  # the TFLite input is resized for every length
        clip = check_clips(16000, (samples,), seed=samples)[0]
        a, b = saved(clip), lite(clip)
        assert a["face"].shape == b["face"].shape == (64, 64, 3)
        assert a["face"].dtype == b["face"].dtype == np.uint8
        np.testing.assert_allclose(a["face_float"], b["face_float"], atol=1e-4)
        np.testing.assert_allclose(a["embedding"], b["embedding"], atol=1e-5)


def test_tflite_from_bytes_defaults_to_16k(base):
    content = (base / "1" / "faces_fp32.tflite").read_bytes()
    model = TFLiteFaces(content)
    assert model.path is None and model.sample_rate == 16000
    assert model(np.zeros(1600, np.float32))["embedding"].shape == (64,)
