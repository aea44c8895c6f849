"""s2f_tf.serving.export: SavedModel signatures, the TF Serving session loader, TFLite parity, versions."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from random_workdir import write_random_workdir

from s2f_tf.cli import main
from s2f_tf.config import AudioConfig, Config, preset
from s2f_tf.errors import S2FError
from s2f_tf.frontend import LogMelSpectrogram, mel_filterbank
from s2f_tf.locks import hold_directory
from s2f_tf.models.voice_to_face import TileToMinFrames, VoiceToFace
from s2f_tf.serving import export as export_module
from s2f_tf.serving.checks import ExportCheckError, check_clips
from s2f_tf.serving.export import export, next_version, versions
from s2f_tf.serving.inference import SavedModelFaces, TFLiteFaces
from s2f_tf.serving.saved_model import run_session, run_session_requests, wav_bytes
from s2f_tf.serving.tflite import convert_saved_model, restore_float_weights, tflite_operators
from s2f_tf.workdir import load_inference_models

RATE = 16000


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return write_random_workdir(tmp_path_factory.mktemp("work"), preset("tiny"), seed=1)


@pytest.fixture(scope="module")
def exported(workdir, tmp_path_factory):
    """One export (all three TFLite files) shared by the module: exporting is the slow part."""
    base = tmp_path_factory.mktemp("savedmodels") / "s2f_tiny"
    report = export(workdir, base, progress=False)
    return base, report


@pytest.fixture(scope="module")
def keras_model(workdir):
    config, encoder, generator = load_inference_models(workdir)
    return VoiceToFace(encoder, generator, config.audio)


def test_tiling_repeats_short_sequences_and_keeps_long_ones():
    layer = TileToMinFrames(7)
    short = tf.reshape(tf.range(3.0), [1, 3, 1])
    np.testing.assert_array_equal(layer(short)[0, :, 0], [0, 1, 2, 0, 1, 2, 0])
    long = tf.reshape(tf.range(9.0), [1, 9, 1])
    np.testing.assert_array_equal(layer(long)[0, :, 0], np.arange(9))
    exact = tf.reshape(tf.range(7.0), [1, 7, 1])
    np.testing.assert_array_equal(layer(exact)[0, :, 0], np.arange(7))


def test_report_and_layout(exported):
    base, report = exported
    version = base / "1"
    assert report["version"] == 1 and report["saved_model"]["path"] == str(version)
    names = sorted(p.name for p in version.iterdir())
    for expected in ("saved_model.pb", "variables", "config.json", "export_report.json"):
        assert expected in names
    for q in ("fp32", "fp16", "int8"):
        path = version / f"s2f_tiny_{q}.tflite"
        assert path.stat().st_size == report["tflite"][q]["size_bytes"] > 10_000
    assert [p.name for p in base.iterdir()] == ["1"]  # no temporary directory left behind
    on_disk = json.loads((version / "export_report.json").read_text())
    assert on_disk["tflite"]["fp32"]["max_abs_diff_face_float_vs_keras"] <= 1e-4
    assert on_disk["saved_model"]["rejects_other_sample_rates"] is True
    assert report["tflite"]["int8"]["psnr_db_vs_fp32"] is None or (
        report["tflite"]["int8"]["psnr_db_vs_fp32"] > 30
    )
    # tiny: the float32 mel filterbank (131 kB, kept in the int8 file) outweighs the int8 savings.
    assert report["tflite"]["int8"]["size_bytes"] < report["tflite"]["fp32"]["size_bytes"]
    assert report["tflite"]["fp16"]["size_bytes"] < report["tflite"]["fp32"]["size_bytes"]
    for q in ("fp32", "int8"):  # the outputs keep the batch of one of the TFLite input
        interpreter = Interpreter(model_path=str(version / f"s2f_tiny_{q}.tflite"))
        assert [list(d["shape_signature"][:1]) for d in interpreter.get_output_details()] == [
            [1]
        ] * 3
    contract = json.loads((version / "config.json").read_text())
    assert contract["sample_rate"] == RATE and contract["preset"] == "tiny"
    assert contract["tflite"]["inputs"]["waveform"]["shape"] == [1, None]
    assert Config.from_dict(contract["config"]) == preset("tiny")


def test_signatures_and_dtypes(exported):
    base, _ = exported
    loaded = tf.saved_model.load(str(base / "1"))
    assert set(loaded.signatures) == {"serving_default", "from_wav"}
    serving = loaded.signatures["serving_default"]
    (spec,) = serving.structured_input_signature[1].values()
    assert spec.dtype == tf.float32 and spec.shape.as_list() == [None, None]
    assert list(serving.structured_input_signature[1]) == ["waveform"]
    wav = loaded.signatures["from_wav"].structured_input_signature[1]["wav"]
    assert wav.dtype == tf.string and wav.shape.as_list() == [None]
    for name in ("serving_default", "from_wav"):
        outputs = loaded.signatures[name].structured_outputs
        assert outputs["face"].dtype == tf.uint8 and outputs["face"].shape[1:] == [64, 64, 3]
        assert outputs["face_float"].dtype == tf.float32
        assert outputs["embedding"].dtype == tf.float32 and outputs["embedding"].shape[1:] == [64]


def test_session_loader_runs_serving_default(exported, keras_model):
    base, _ = exported
    waveform = np.stack(check_clips(RATE, (3000, 3000), seed=7))
    got = run_session(base / "1", "serving_default", {"waveform": waveform})
    want = keras_model(waveform)
    assert got["face"].shape == (2, 64, 64, 3) and got["face"].dtype == np.uint8
    np.testing.assert_allclose(got["face_float"], want["face_float"], atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(got["embedding"], axis=1), 1.0, atol=1e-5)
    expected_face = np.round((np.clip(got["face_float"], -1, 1) + 1) * 127.5)
    np.testing.assert_array_equal(got["face"], expected_face.astype(np.uint8))


def test_session_loader_runs_from_wav_with_mixed_lengths_and_stereo(exported, keras_model):
    base, _ = exported
    mono, other = check_clips(RATE, (5000, 2000), seed=3)
    stereo = np.stack([other, -other], axis=1) * 0.5 + 0.25 * other[:, None]
    wavs = np.array([wav_bytes(mono, RATE), wav_bytes(stereo, RATE)], dtype=object)
    got = run_session(base / "1", "from_wav", {"wav": wavs})
    assert got["face"].shape == (2, 64, 64, 3)
    as_int16 = [np.round(mono * 32768) / 32768, (np.round(stereo * 32768) / 32768).mean(axis=1)]
    for i, waveform in enumerate(as_int16):
        want = keras_model(waveform[None].astype(np.float32))
        np.testing.assert_allclose(got["face_float"][i : i + 1], want["face_float"], atol=1e-4)


def test_from_wav_rejects_other_sample_rates(exported):
    base, _ = exported
    wav = wav_bytes(check_clips(8000, (4000,))[0], 8000)
    with pytest.raises(tf.errors.InvalidArgumentError, match="sample rate must be 16000 Hz"):
        run_session(base / "1", "from_wav", {"wav": np.array([wav], dtype=object)})


@pytest.mark.parametrize("samples", [0, 1, 150, 399, 401, 1601, 45000, 320000])
def test_tflite_fp32_matches_keras_at_many_lengths(exported, keras_model, samples):
    base, _ = exported
    runner = TFLiteFaces(base / "1" / "s2f_tiny_fp32.tflite", num_threads=1)
    clip = check_clips(RATE, (samples,), seed=samples)[0]
    got = runner(clip)
    want = {k: v.numpy()[0] for k, v in keras_model(clip[None]).items()}
    assert got["face"].dtype == np.uint8 and got["face"].shape == (64, 64, 3)
    assert np.isfinite(got["face_float"]).all()
    np.testing.assert_allclose(got["face_float"], want["face_float"], atol=1e-4)
    np.testing.assert_allclose(got["embedding"], want["embedding"], atol=1e-4)


def test_quantized_tflite_runs_and_stays_close(exported):
    base, _ = exported
    clip = check_clips(RATE, (24000,), seed=11)[0]
    fp32 = TFLiteFaces(base / "1" / "s2f_tiny_fp32.tflite")(clip)["face_float"]
    scale = np.sqrt(np.mean(fp32**2))
    for q, limit in (("fp16", 0.01), ("int8", 0.5)):
        got = TFLiteFaces(base / "1" / f"s2f_tiny_{q}.tflite")(clip)["face_float"]
        assert np.isfinite(got).all()
        assert np.sqrt(np.mean((got - fp32) ** 2)) / scale < limit


def test_tflite_files_use_builtin_ops_only(exported):
    base, _ = exported
    for q in ("fp32", "fp16", "int8"):
        operators = tflite_operators((base / "1" / f"s2f_tiny_{q}.tflite").read_bytes())
        # The serving graph: the generator's upsampling as matrix products + DEPTH_TO_SPACE (only its
        # 1x1 -> 4x4 seed is a TRANSPOSE_CONV); fp32 and int8 take the DFT as FULLY_CONNECTED, fp16
        # keeps RFFT2D.
        assert "FULLY_CONNECTED" in operators and "DEPTH_TO_SPACE" in operators
        assert "TRANSPOSE_CONV" in operators
        assert ("RFFT2D" in operators) == (q == "fp16")
        assert not [op for op in operators if op.startswith("Flex") or op == "CUSTOM"]


def test_conversion_fails_loudly_on_flex_ops(tmp_path):
    archive = keras.export.ExportArchive()
    archive.add_endpoint(
        "serving_default",
        lambda x: {"y": tf.math.cumprod(x, axis=1)},
        input_signature=[tf.TensorSpec([1, None], tf.float32, name="x")],
    )
    archive.write_out(str(tmp_path / "flex"), verbose=False)
    with pytest.raises(ExportCheckError, match="non-builtin ops: Cumprod"):
        convert_saved_model(tmp_path / "flex", "fp32")


def _fully_connected_weight_types(content):
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    return [
        (
            flatbuffer_utils.type_to_name(subgraph.tensors[op.inputs[1]].type),
            list(subgraph.tensors[op.inputs[1]].shape),
        )
        for subgraph in model.subgraphs
        for op in subgraph.operators
        if flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) == "FULLY_CONNECTED"
    ]


def test_int8_file_keeps_the_front_end_float(exported):
    base, _ = exported
    content = (base / "1" / "s2f_tiny_int8.tflite").read_bytes()
    types = _fully_connected_weight_types(content)
    # The front end's matrices (cosines, sines, the used filterbank rows) stay float; the serving
    # graph's other matrix products (the encoder's convolutions, the generator's upsampling layers)
    # are quantised like before.
    front_end = [[459, 200], [459, 200], [64, 459]]
    model = preset("tiny").model
    channels = model.generator_channels
    voice = (64, *model.voice_channels, model.embedding_dim)
    assert sorted([list(map(int, shape)) for _, shape in types]) == sorted(
        front_end
        + [[out, 3 * cin] for cin, out in zip(voice[:-1], voice[1:], strict=True)]
        + [[4 * out, 4 * cin] for cin, out in zip(channels[:-1], channels[1:], strict=True)]
    )
    for kind, shape in types:
        # The converter leaves weights under 1,024 elements float (some of tiny's).
        small = int(np.prod(shape)) < 1024
        assert kind == ("FLOAT32" if list(shape) in front_end or small else "INT8"), shape


def test_restoring_float_filterbank_fixes_int8_front_end(tmp_path):
    layer = LogMelSpectrogram()
    archive = keras.export.ExportArchive()
    archive.add_endpoint(
        "serving_default",
        lambda waveform: {"features": layer(waveform)},
        input_signature=[tf.TensorSpec([1, None], tf.float32, name="waveform")],
    )
    archive.write_out(str(tmp_path / "frontend"), verbose=False)
    hybrid = convert_saved_model(tmp_path / "frontend", "int8")
    assert _fully_connected_weight_types(hybrid) == [("INT8", [64, 513])]
    fixed, restored = restore_float_weights(hybrid, mel_filterbank(AudioConfig()).T)
    assert restored == 1
    clip = check_clips(RATE, (16000,), seed=1)[0]
    want = layer(clip[None]).numpy()
    errors = {}
    for name, content in (("hybrid", hybrid), ("fixed", fixed)):
        runner = Interpreter(model_content=content).get_signature_runner()
        errors[name] = np.abs(runner(waveform=clip[None])["features"] - want).max()
    assert errors["hybrid"] > 1.0  # 8-bit run-time quantisation of the power spectrum
    assert errors["fixed"] < 1e-3


def test_next_version_ignores_temporary_and_non_numeric(tmp_path):
    assert next_version(tmp_path / "missing") == 1
    for name in ("1", "3", ".4.abc.tmp", "notes", "10x"):
        (tmp_path / name).mkdir()
    assert next_version(tmp_path) == 4


def test_existing_version_is_never_overwritten(exported, workdir):
    base, _ = exported
    before = (base / "1" / "saved_model.pb").read_bytes()
    with pytest.raises(S2FError, match="already exists"):
        export(workdir, base, version=1, progress=False)
    assert (base / "1" / "saved_model.pb").read_bytes() == before


def test_failed_check_publishes_nothing(workdir, tmp_path, monkeypatch):
    def failing(*args, **kwargs):
        raise ExportCheckError("simulated parity failure")

    monkeypatch.setattr(export_module, "check_saved_model", failing)
    base = tmp_path / "s2f_tiny"
    with pytest.raises(ExportCheckError, match="simulated"):
        export(workdir, base, quantizations=(), progress=False)
    assert list(base.iterdir()) == []


def test_cli_export_takes_the_next_version_and_prints_json_last(
    exported, workdir, capsys, tmp_path
):
    base, _ = exported
    assert main(["export", "--workdir", str(workdir), "--out", str(base), "--tflite"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["version"] == 2 and summary["tflite"] == {}
    assert (base / "2" / "saved_model.pb").is_file() and (base / "1").is_dir()


def test_cli_export_bad_workdir_is_one_line(tmp_path, capsys):
    assert main(["export", "--workdir", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config.json" in err[0]


# Non-finite audio is refused by every artifact, not turned into a black face.


def _poisoned(clip, value, at=123):
    poisoned = clip.copy()
    poisoned[at] = value
    return poisoned


def test_served_model_refuses_non_finite_audio(exported):
    base, report = exported
    clip = check_clips(RATE, (8000,))[0]
    requests = [
        {"waveform": np.stack([clip, _poisoned(clip, value)])}  # one bad sample in a batch of two
        for value in (np.nan, np.inf, -np.inf)
    ] + [{"waveform": np.stack([clip, clip])}]
    *refused, served = run_session_requests(base / "1", "serving_default", requests)
    for answer in refused:  # what TF Serving answers the caller
        assert isinstance(answer, tf.errors.InvalidArgumentError)
        assert "serving_default: the waveform contains NaN or infinite samples" in answer.message
    assert np.isfinite(served["face_float"]).all()  # and it goes on serving
    assert report["saved_model"]["rejects_non_finite"] is True
    signature = tf.saved_model.load(str(base / "1")).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite"):
        signature(waveform=tf.constant(_poisoned(clip, np.nan)[None]))
    with pytest.raises(S2FError, match="the waveform contains NaN or infinite samples"):
        SavedModelFaces(base / "1")(_poisoned(clip, -np.inf))


@pytest.mark.parametrize("quantization", ["fp32", "fp16", "int8"])
def test_tflite_refuses_non_finite_audio(exported, quantization):
    base, report = exported
    path = base / "1" / f"s2f_tiny_{quantization}.tflite"
    runner = Interpreter(model_path=str(path)).get_signature_runner()
    clip = check_clips(RATE, (8000,))[0]
    for value in (np.nan, np.inf, -np.inf):
        with pytest.raises(RuntimeError, match="gather index out of bounds"):
            runner(waveform=_poisoned(clip, value)[None])
    assert np.isfinite(runner(waveform=clip[None])["face_float"]).all()  # still usable
    assert report["tflite"][quantization]["rejects_non_finite"] is True
    assert "GATHER" in report["tflite"][quantization]["operators"]  # builtin ops only
    with pytest.raises(S2FError, match="the waveform contains NaN or infinite samples"):
        TFLiteFaces(path)(_poisoned(clip, np.nan))


# A killed export's leftovers are removed by the next export, a live one's are not.


def test_next_export_removes_what_a_killed_export_left(workdir, tmp_path, monkeypatch):
    base, scratch = tmp_path / "models" / "s2f_tiny", tmp_path / "tmp"
    scratch.mkdir()
    killed = subprocess.Popen(
        [sys.executable, "-m", "s2f_tf", "export", "--workdir", str(workdir), "--out", str(base)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(scratch), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    deadline = time.time() + 300
    while time.time() < deadline and not list(scratch.glob("s2f_tflite_*")):
        assert killed.poll() is None, "the export ended before its TFLite conversion"
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    leftovers = list(base.glob(".1.*.tmp")) + list(scratch.glob("s2f_tflite_*"))
    assert len(leftovers) == 2, leftovers  # the staging version and the conversion's source
    live = base / ".7.live.tmp"  # another export, still running
    live.mkdir()
    held = hold_directory(live)
    try:
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
        report = export(workdir, base, quantizations=(), check_samples=(200,), progress=False)
        assert sorted(report["removed_stale_leftovers"]) == sorted(map(str, leftovers))
        assert not any(path.exists() for path in leftovers) and live.is_dir()
        assert versions(base) == [1] and report["version"] == 1
    finally:
        os.close(held)
