"""examples/: each one run as a user runs it (a separate process) on a tiny configuration, and the snippets
of the guides (docs/) checked to be the examples' own code.

- train_fit.py: fit() on a tiny prepared corpus with TensorBoard and BackupAndRestore, then a checked
  export; a rerun with more steps resumes from the backup instead of starting again.
- serving_client.py: REST (`{"b64": ...}` WAV) and gRPC against tests/serving_standin.py, a stand-in for
  TF Serving (whose binary cannot be installed here) serving the exported SavedModel through the v1
  session loader with the same REST JSON and gRPC PredictionService protocol.
- litert_infer.py: the signature runner on clips of any length, PNGs equal to `s2f generate`'s faces.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import prepare_small_corpus
from PIL import Image

from s2f_tf.audio import load_audio, voiced
from s2f_tf.commands.quiet import TF_LOG_LINE

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]
SERVING_GUIDE = ROOT / "docs" / "serving-and-devices.md"


def run_example(name, *args, timeout=600):
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def own_stderr(result):
    """The example's own lines on stderr (TensorFlow's C++ start-up lines are printed at import, before
    any code of the example runs; the `s2f` command line hides them, a plain script does not)."""
    return [line for line in result.stderr.splitlines() if not TF_LOG_LINE.match(line.encode())]


def last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name[:-3]}", EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png(path):
    return np.asarray(Image.open(path).convert("RGB"))


# === The snippets of the guides are the examples' code ===


def example_snippet(name, label):
    """The code between `# --- snippet: LABEL` and `# --- end snippet ---` in examples/NAME."""
    text = (EXAMPLES / name).read_text()
    match = re.search(
        rf"^ *# --- snippet: {label}\b.*?\n(.*?)^ *# --- end snippet ---", text, re.S | re.M
    )
    assert match, f"no snippet {label} in {name}"
    return textwrap.dedent(match.group(1)).strip()


def readme_snippet(name, label, language="python"):
    """The fenced block after `<!-- snippet: examples/NAME#LABEL -->` in the README or a guide under
    docs/ (the one document that shows it)."""
    marker = f"<!-- snippet: examples/{name}#{label} -->"
    holding = [p.read_text() for p in DOCUMENTS if marker in p.read_text()]
    assert len(holding) == 1, f"{len(holding)} documents show {marker} (README.md, docs/*.md)"
    (text,) = holding
    match = re.search(re.escape(marker) + rf"\s*```{language}\n(.*?)```", text, re.S)
    assert match, f"no ```{language} block after {marker}"
    return match.group(1).strip()


@pytest.mark.parametrize(
    "name, label",
    [
        ("litert_infer.py", "litert"),
        ("serving_client.py", "rest"),
        ("serving_client.py", "grpc"),
        ("train_fit.py", "fit"),
    ],
)
def test_readme_snippet_is_the_example_code(name, label):
    assert readme_snippet(name, label) == example_snippet(name, label)


def test_readme_snippet_runs_on_its_own(tiny_export, audio_files):
    """The LiteRT snippet defines everything it uses (the old one used an undefined `waveform`)."""
    namespace = {}
    exec(compile(readme_snippet("litert_infer.py", "litert"), "README.md", "exec"), namespace)
    runner = namespace["load_runner"](str(tiny_export / "gen_fp32.tflite"))
    face = namespace["face_from_voice"](runner, str(audio_files / "speech.wav"))
    assert face.shape == (64, 64, 3) and face.dtype == np.uint8


def test_kotlin_snippet_uses_the_signature_runner_names(tiny_export):
    """Output tensors are named StatefulPartitionedCall:N; the Kotlin snippet must go by signature names."""
    from ai_edge_litert.interpreter import Interpreter

    text = SERVING_GUIDE.read_text()
    kotlin = re.search(r"LiteRT on Android \(Kotlin\).*?```kotlin\n(.*?)```", text, re.S).group(1)
    interpreter = Interpreter(model_path=str(tiny_export / "gen_fp32.tflite"))
    signatures = interpreter.get_signature_list()
    assert "runSignature(" in kotlin and "getOutputTensor" not in kotlin
    key = re.search(r'runSignature\(.*?"(\w+)"\s*\)', kotlin, re.S).group(1)
    assert key in signatures
    names = set(re.findall(r'"(\w+)" to ', kotlin))
    assert names == {"waveform", "face"}
    assert "waveform" in signatures[key]["inputs"] and "face" in signatures[key]["outputs"]
    raw_outputs = {d["name"] for d in interpreter.get_output_details()}
    assert "face" not in raw_outputs  # why the old lookup by tensor name found nothing


# === litert_infer.py ===


def test_litert_example_any_length_writes_the_generate_faces(tmp_path, tiny_export, audio_files):
    from s2f_tf.serving.inference import load_model

    model_path = tiny_export / "gen_fp32.tflite"
    files = [audio_files / "speech.wav", audio_files / "bob.flac", audio_files / "short.wav"]
    result = run_example(
        "litert_infer.py",
        "--model",
        model_path,
        "--wav",
        *files,
        "--no-vad",
        "--out",
        tmp_path / "f.png",
    )
    assert result.returncode == 0, result.stderr
    model = load_model(model_path)
    lengths = []
    for number, path in enumerate(files, start=1):
        samples = load_audio(path, 16000)
        lengths.append(len(samples))
        written = png(tmp_path / f"f_{number}.png")
        np.testing.assert_array_equal(written, model(samples)["face"])
    assert (
        lengths[2] == 160 and len(set(lengths)) == 3
    )  # 10 ms, 1.5 s, 2 s: one runner, three sizes
    # With VAD (the default): only the speech, as `s2f generate` gives it.
    result = run_example(
        "litert_infer.py", "--model", model_path, "--wav", files[0], "--out", tmp_path / "v.png"
    )
    assert result.returncode == 0, result.stderr
    speech = voiced(load_audio(files[0], 16000)).astype(np.float32) / 32768.0
    assert 0 < len(speech) < lengths[0]
    np.testing.assert_array_equal(png(tmp_path / "v.png"), model(speech)["face"])


def test_litert_example_bad_input_is_one_line(tmp_path, tiny_export, audio_files):
    model_path = tiny_export / "gen_fp32.tflite"
    for wav, expected in (
        (audio_files / "quiet.wav", "no speech detected"),
        (audio_files / "notes.wav", "not a readable audio file"),
    ):
        result = run_example(
            "litert_infer.py", "--model", model_path, "--wav", wav, "--out", tmp_path / "x.png"
        )
        assert result.returncode == 2
        (line,) = own_stderr(result)
        assert line.startswith("litert_infer.py: error: ") and expected in line
    assert not (tmp_path / "x.png").exists()


# === serving_client.py against the TF Serving stand-in ===


def test_serving_client_rest_and_grpc(tmp_path, tiny_export, audio_files):
    pytest.importorskip("tensorflow_serving", reason="pip install 's2f_tf[serving]'")
    import tensorflow as tf
    from serving_standin import StandIn

    client = load_example("serving_client.py")
    wav = audio_files / "bob.flac"  # 44.1 kHz stereo FLAC: the client sends 16 kHz mono WAV bytes
    sent = client.wav_bytes(wav)
    # The SavedModel's own answer, through TF2's loader (the stand-in uses the v1 session loader).
    from_wav = tf.saved_model.load(str(tiny_export)).signatures["from_wav"]
    expected = {k: v.numpy() for k, v in from_wav(wav=tf.constant([sent])).items()}
    with StandIn("gen", tiny_export) as server:
        result = run_example(
            "serving_client.py",
            "--model",
            "gen",
            "--wav",
            wav,
            "--rest",
            server.rest,
            "--grpc",
            server.grpc,
            "--out",
            tmp_path / "face.png",
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        summary = last_json(result.stdout)
        (rest_api, rest_body), (grpc_api, grpc_request) = server.requests
        # A wrong model name: the server's 404, said in one line.
        missing = run_example(
            "serving_client.py",
            "--model",
            "nobody",
            "--wav",
            wav,
            "--rest",
            server.rest,
            "--out",
            tmp_path / "nobody.png",
            timeout=300,
        )
    # What went over the wire: TF Serving's JSON with the WAV as {"b64": ...}, and a string tensor.
    assert (rest_api, grpc_api) == ("rest", "grpc")
    assert rest_body["signature_name"] == "from_wav"
    (instance,) = rest_body["instances"]
    assert set(instance) == {"b64"}
    import base64

    assert base64.b64decode(instance["b64"]) == sent
    assert grpc_request.model_spec.signature_name == "from_wav"
    assert grpc_request.inputs["wav"].string_val == [sent]
    # Both answers are the SavedModel's own face for those bytes, and the PNGs hold them.
    face = expected["face"][0]
    np.testing.assert_array_equal(png(tmp_path / "face.png"), face)
    np.testing.assert_array_equal(png(tmp_path / "face_grpc.png"), face)
    assert summary["rest_grpc_max_difference"] == 0
    np.testing.assert_allclose(summary["rest"]["embedding"], expected["embedding"][0], atol=1e-5)
    assert missing.returncode == 2
    (line,) = own_stderr(missing)
    assert line.startswith("serving_client.py: error: rest request to ")
    assert "HTTP 404" in line and "nobody" in line


# === train_fit.py ===


@pytest.fixture(scope="module")
def fit_inputs(tmp_path_factory):
    """A tiny prepared corpus and a work directory holding what `s2f pretrain-voice` leaves for the GAN:
    config.json and a (here randomly initialised) `tiny` voice encoder."""
    import keras

    from s2f_tf import workdir as wd
    from s2f_tf.config import preset
    from s2f_tf.models import VoiceEncoder

    root = tmp_path_factory.mktemp("fit")
    data = prepare_small_corpus(root, seed=11)
    config = preset("tiny").replace(train={"batch_size": 4})
    pretrained = root / "pretrained"
    pretrained.mkdir()
    (pretrained / wd.CONFIG).write_text(config.to_json())
    keras.utils.set_random_seed(2)
    encoder = VoiceEncoder.from_model_config(config.model, name="voice_encoder")
    encoder.build((None, None, config.audio.num_mel_bins))
    encoder.save_weights(str(pretrained / wd.ENCODER_WEIGHTS))
    return data, pretrained, root


def test_train_fit_example_trains_resumes_and_exports(fit_inputs):
    import keras

    from s2f_tf import workdir as wd
    from s2f_tf.data.info import load_info
    from s2f_tf.models import build_models

    data, pretrained, root = fit_inputs
    work, base = root / "work", root / "savedmodels" / "fit"
    common = ["--data", data, "--pretrained", pretrained, "--workdir", work, "--out", base]
    common += ["--steps-per-epoch", 1, "--quantizations", "fp32"]
    first = run_example("train_fit.py", *common, "--steps", 2)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = last_json(first.stdout)
    assert summary["epochs_run"] == 2
    assert "Warning" not in first.stderr, first.stderr  # e.g. Keras' shuffle=True warning
    assert all(np.isfinite(v) for v in summary["last_losses"].values())
    assert {"loss/g_adversarial", "loss/d_adversarial"} <= set(summary["last_losses"])
    assert (base / "1" / "saved_model.pb").is_file() and (base / "1" / "fit_fp32.tflite").is_file()
    assert summary["saved_model"] == str(base / "1")
    events = list((work / "logs_fit").rglob("events.out.tfevents.*"))
    assert events, "TensorBoard wrote no event file"
    assert (work / "fit_backup").is_dir()
    # The export holds the trained generator, not the initial one.
    config, _, trained = wd.load_inference_models(work)
    keras.utils.set_random_seed(config.train.seed)
    initial = build_models(config, load_info(data).num_classes).generator
    moved = max(
        float(np.abs(a - b).max())
        for a, b in zip(trained.get_weights(), initial.get_weights(), strict=True)
    )
    assert moved > 1e-6
    # A rerun asked for 4 steps resumes after the 2 epochs of the backup and exports version 2.
    second = run_example("train_fit.py", *common, "--steps", 4)
    assert second.returncode == 0, second.stderr[-3000:]
    assert last_json(second.stdout)["epochs_run"] == 2
    assert last_json(second.stdout)["saved_model"] == str(base / "2")


def test_train_fit_example_bad_path_is_one_line(tmp_path, fit_inputs):
    data, _, _ = fit_inputs
    result = run_example(
        "train_fit.py",
        "--data",
        data,
        "--pretrained",
        tmp_path / "none",
        "--workdir",
        tmp_path / "w",
        "--out",
        tmp_path / "m",
        "--steps",
        1,
    )
    assert result.returncode == 2
    (line,) = own_stderr(result)
    assert line.startswith("train_fit.py: error: ") and "none" in line
