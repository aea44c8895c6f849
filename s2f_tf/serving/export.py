"""`s2f export`: a work directory -> a TF Serving SavedModel and TFLite files, each checked before publishing.

Everything lands in one version directory of the TF Serving layout, written to a temporary sibling and
renamed only after every check has passed (an existing version is never overwritten):

    OUT/<version>/saved_model.pb, variables/, assets/, fingerprint.pb   the SavedModel (TF Serving loads these)
    OUT/<version>/NAME_fp32.tflite, NAME_fp16.tflite, NAME_int8.tflite  LiteRT models (Serving ignores them)
    OUT/<version>/config.json                                           preset, sample rate, I/O contract
    OUT/<version>/export_report.json                                    parity figures, sizes, paths

The SavedModel and the TFLite source are written with `keras.export.ExportArchive` (never a plain
`tf.Module`: see TF-NOTES item 1). Checks: the SavedModel is reloaded with the TF1 session loader (what TF
Serving does) and both signatures are run and compared with the Keras model; each TFLite file runs in the
LiteRT interpreter on clips from 1 sample to 20 s; fp32 must match Keras within `tolerance`, fp16 and int8
report PSNR against fp32. The TFLite half lives in `s2f_tf.serving.tflite` (re-exported here).
"""

from __future__ import annotations

import io
import re
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import soundfile
import tensorflow as tf
from tqdm.auto import tqdm

from s2f_tf import workdir as workdir_layout
from s2f_tf.errors import S2FError
from s2f_tf.files import atomic_directory, atomic_write_json
from s2f_tf.locks import remove_stale
from s2f_tf.serving import FP32_TOLERANCE, QUANTIZATIONS
from s2f_tf.serving.checks import (
    CHECK_SAMPLES,
    ExportCheckError,
    _check_outputs,
    _keras_outputs,
    _max_diff,
    check_clips,
)
from s2f_tf.serving.inference_model import (
    NON_FINITE,
    VoiceToFace,
    refuse_non_finite,
    refuse_non_finite_tflite,
)
from s2f_tf.serving.tflite import (  # noqa: F401 (the TFLite half, re-exported)
    INT8_TARGET_PSNR_DB,
    TEMP_PREFIX,
    check_tflite,
    convert_saved_model,
    convert_tflite,
    psnr_db,
    restore_float_weights,
    run_tflite_clips,
    tflite_operators,
)

REPORT = "export_report.json"
CONTRACT = "config.json"
SERVING_TAG = "serve"


# === The artifacts ===


def build_inference_model(config, voice_encoder, generator) -> VoiceToFace:
    """The Keras reference, built by one call on a short clip."""
    model = VoiceToFace(voice_encoder, generator, config.audio, name="voice_to_face")
    model(np.zeros([1, config.audio.sample_rate // 10], np.float32))
    return model


def _output_signature(model):
    """Per-example output specs, from one eager call (subclassed models have no static output shape)."""
    outputs = model(np.zeros([1, model.audio.frame_length], np.float32))
    return {key: tf.TensorSpec(value.shape[1:], value.dtype) for key, value in outputs.items()}


def _from_wav_fn(model):
    """Encoded 16-bit WAV strings `[batch]` -> outputs; each file is decoded, downmixed and run alone."""
    sample_rate = model.audio.sample_rate
    output_signature = _output_signature(model)

    def one(wav_bytes):
        audio, rate = tf.audio.decode_wav(wav_bytes)
        check = tf.debugging.assert_equal(
            rate,
            tf.constant(sample_rate, tf.int32),
            message=f"from_wav: the WAV sample rate must be {sample_rate} Hz (resample before sending)",
        )
        with tf.control_dependencies([check]):
            waveform = tf.reduce_mean(audio, axis=1)[None, :]  # downmix channels
        outputs = model(waveform)
        return {key: value[0] for key, value in outputs.items()}

    def from_wav(wav):
        return tf.map_fn(one, wav, fn_output_signature=output_signature)

    return from_wav


def export_archive(
    model: VoiceToFace, batch: int | None = None, with_wav: bool = True, tflite: bool = False
):
    """A `keras.export.ExportArchive` with `serving_default` (and `from_wav`) endpoints.

    `batch=None` gives the Serving signature `waveform [None, None]`; `batch=1` the TFLite one `[1, None]`.
    A waveform with a NaN or infinite sample is refused: with an InvalidArgumentError in the SavedModel,
    with a failed invoke in TFLite (`tflite=True`: builtin ops only, see `refuse_non_finite_tflite`).
    """
    guard = refuse_non_finite_tflite if tflite else refuse_non_finite
    archive = keras.export.ExportArchive()
    # add_endpoint tracks the variables the endpoints use. `archive.track(model)` would also save every
    # Keras Variable wrapper next to its tf.Variable (Keras 3.15), doubling the SavedModel's size.
    archive.add_endpoint(
        "serving_default",
        lambda waveform: model(guard(waveform)),
        input_signature=[tf.TensorSpec([batch, None], tf.float32, name="waveform")],
    )
    if with_wav:
        archive.add_endpoint(
            "from_wav",
            _from_wav_fn(model),
            input_signature=[tf.TensorSpec([batch], tf.string, name="wav")],
        )
    return archive


def write_saved_model(model: VoiceToFace, path) -> Path:
    export_archive(model).write_out(str(path), verbose=False)
    return Path(path)


# === The SavedModel checks (TF Serving's session loader) ===


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV bytes of float samples `[n]` or `[n, channels]` (the `from_wav` input format)."""
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def run_session(path, signature: str, inputs: dict) -> dict:
    """Run one signature of a SavedModel through the TF1 session loader, as TensorFlow Serving does."""
    (result,) = run_session_requests(path, signature, [inputs], errors=False)
    return result


def run_session_requests(path, signature: str, requests, errors: bool = True) -> list:
    """Load the SavedModel once with the TF1 session loader and run `signature` on each input dict.

    With `errors`, a request that fails gives its `tf.errors.OpError` in the list (as TF Serving answers
    that request with an error and goes on serving); otherwise the error is raised.
    """
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # the v1 loader's deprecation notice is expected here
    try:
        with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
            meta_graph = tf.compat.v1.saved_model.loader.load(session, [SERVING_TAG], str(path))
            signature_def = meta_graph.signature_def[signature]
            fetch = {key: tensor.name for key, tensor in signature_def.outputs.items()}
            results = []
            for inputs in requests:
                feed = {signature_def.inputs[key].name: value for key, value in inputs.items()}
                try:
                    results.append(session.run(fetch, feed))
                except tf.errors.OpError as error:
                    if not errors:
                        raise
                    results.append(error)
            return results
    finally:
        logger.setLevel(level)


def check_saved_model(path, model: VoiceToFace, clips, tolerance=FP32_TOLERANCE) -> dict:
    """Session-load the SavedModel, run both signatures, compare with Keras; raise ExportCheckError."""
    rate = model.audio.sample_rate
    diffs = {"serving_default": [], "from_wav": []}
    face_diffs = []
    batches = [clip for clip in clips if len(clip) < 20 * rate] or clips[:1]
    for clip in batches:  # a batch of two different signals of the same length
        waveform = np.stack([clip, clip[::-1]])
        got = run_session(path, "serving_default", {"waveform": waveform})
        want = _keras_outputs(model, waveform)
        _check_outputs(
            got, want, batch=2, where=f"SavedModel serving_default ({len(clip)} samples)"
        )
        diffs["serving_default"].append(_max_diff(got["face_float"], want["face_float"]))
        face_diffs.append(_max_diff(got["face"], want["face"]))

    # from_wav: files of different lengths in one request, one of them stereo.
    long, short = max(batches, key=len), min(clips, key=len)
    stereo = np.stack([short, 0.5 * short[::-1]], axis=1)
    wavs = [wav_bytes(long, rate), wav_bytes(stereo, rate)]
    got = run_session(path, "from_wav", {"wav": np.array(wavs, dtype=object)})
    for i, audio in enumerate([long[:, None], stereo]):
        decoded, _ = soundfile.read(io.BytesIO(wavs[i]), dtype="float32", always_2d=True)
        want = _keras_outputs(model, decoded.mean(axis=1, dtype=np.float32)[None])
        one = {key: value[i : i + 1] for key, value in got.items()}
        _check_outputs(one, want, batch=1, where=f"SavedModel from_wav (file {i}, {audio.shape})")
        diffs["from_wav"].append(_max_diff(one["face_float"], want["face_float"]))

    try:
        run_session(path, "from_wav", {"wav": np.array([wav_bytes(short, rate // 2)], object)})
        rejects = False
    except tf.errors.InvalidArgumentError as error:
        rejects = "sample rate" in str(error)
    if not rejects:
        raise ExportCheckError(
            f"SavedModel from_wav accepted a {rate // 2} Hz file without an error"
        )
    rejects_non_finite = _rejects_non_finite(path, short)
    if not all(rejects_non_finite.values()):
        raise ExportCheckError(
            f"SavedModel serving_default accepted non-finite samples: {rejects_non_finite}"
        )

    worst = max(max(values) for values in diffs.values())
    if not worst <= tolerance:
        raise ExportCheckError(
            f"SavedModel differs from the Keras model by {worst:.3g} (> {tolerance:g}) in face_float"
        )
    return {
        "loader": "tf.compat.v1.saved_model.loader.load (TF Serving)",
        "max_abs_diff_face_float": {key: max(values) for key, values in diffs.items()},
        "max_abs_diff_face_uint8": max(face_diffs),
        "rejects_other_sample_rates": rejects,
        "rejects_non_finite": True,
    }


def _rejects_non_finite(path, clip: np.ndarray) -> dict:
    """Whether serving_default answers a NaN, +Inf or -Inf sample with the non-finite error, and then
    still serves a clean request."""
    requests = []
    for value in (np.nan, np.inf, -np.inf):
        poisoned = np.stack([clip, clip])
        poisoned[1, len(clip) // 2] = value  # one bad sample in the second example of the batch
        requests.append({"waveform": poisoned})
    requests.append({"waveform": np.stack([clip, clip])})
    *answers, clean = run_session_requests(path, "serving_default", requests)
    results = {
        name: isinstance(answer, tf.errors.InvalidArgumentError) and NON_FINITE in str(answer)
        for name, answer in zip(("nan", "inf", "-inf"), answers, strict=True)
    }
    results["then_serves_clean_audio"] = isinstance(clean, dict)
    return results


# === Versions and the contract ===


def versions(base) -> list[int]:
    """The published integer versions under a model base path, ascending."""
    base = Path(base)
    if not base.is_dir():
        return []
    return sorted(
        int(p.name) for p in base.iterdir() if p.is_dir() and re.fullmatch(r"\d+", p.name)
    )


def next_version(base) -> int:
    existing = versions(base)
    return existing[-1] + 1 if existing else 1


def remove_stale_leftovers(base) -> list[str]:
    """Remove what killed exports left: `.N.XXXX.tmp` under the base path and `s2f_tflite_*` in the
    system temporary folder. A live export holds a lock on its directories, so only those of dead
    processes go (see `s2f_tf.locks`)."""
    base = Path(base)
    staging = [p for p in base.glob(".*.tmp") if re.fullmatch(r"\.\d+\..+\.tmp", p.name)]
    scratch = Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*")
    return [str(p) for p in remove_stale(staging) + remove_stale(scratch)]


def _make_readable(path: Path):
    for item in [path, *path.rglob("*")]:
        item.chmod(0o755 if item.is_dir() else 0o644)


def _directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def contract(config, name: str, version: int, quantizations) -> dict:
    """The input/output contract written to config.json beside the artifacts."""
    size = config.model.image_size
    outputs = {
        "face": {
            "dtype": "uint8",
            "shape": [None, size, size, 3],
            "meaning": "round((clip(face_float, -1, 1) + 1) * 127.5), RGB",
        },
        "face_float": {
            "dtype": "float32",
            "shape": [None, size, size, 3],
            "meaning": "generator output, linear, nominally [-1, 1]",
        },
        "embedding": {
            "dtype": "float32",
            "shape": [None, config.model.embedding_dim],
            "meaning": "L2-normalised voice embedding fed to the generator",
        },
    }
    rate = config.audio.sample_rate
    return {
        "name": name,
        "version": version,
        "preset": config.name,
        "sample_rate": rate,
        "test_frames": config.audio.test_frames,
        "saved_model": {
            "tag": SERVING_TAG,
            "signatures": {
                "serving_default": {
                    "inputs": {
                        "waveform": {
                            "dtype": "float32",
                            "shape": [None, None],
                            "meaning": f"mono samples at {rate} Hz in [-1, 1]; one length per batch",
                        }
                    },
                    "outputs": outputs,
                },
                "from_wav": {
                    "inputs": {
                        "wav": {
                            "dtype": "string",
                            "shape": [None],
                            "meaning": f'encoded 16-bit PCM WAV files at {rate} Hz (REST: {{"b64": ...}})',
                        }
                    },
                    "outputs": outputs,
                    "other_sample_rates": "rejected with InvalidArgumentError (not resampled)",
                    "channels": "downmixed to mono (mean)",
                },
            },
        },
        "tflite": {
            "files": {q: f"{name}_{q}.tflite" for q in quantizations},
            "signature": "serving_default",
            "inputs": {"waveform": {"dtype": "float32", "shape": [1, None]}},
            "outputs": {k: dict(v, shape=[1] + v["shape"][1:]) for k, v in outputs.items()},
            "note": "resize_tensor_input + allocate_tensors for every new length",
        },
        "config": config.to_dict(),
    }


# === The whole export ===


def export(
    workdir,
    out,
    version: int | None = None,
    quantizations=QUANTIZATIONS,
    tolerance: float = FP32_TOLERANCE,
    check_samples=CHECK_SAMPLES,
    progress: bool = True,
) -> dict:
    """Export the work directory's models to `out/<version>/` (SavedModel + TFLite), checked; the report.

    Args:
        workdir: a work directory (`s2f_tf.workdir` layout) with a voice encoder and a GAN checkpoint.
        out: the model base path, `savedmodels/NAME`; NAME names the TFLite files.
        version: the integer version to write (default: one more than the highest existing one).
        quantizations: which TFLite files to write (subset of fp32, fp16, int8; empty for none).
        tolerance: the largest max |face_float - Keras| accepted for the SavedModel and fp32 TFLite.
        check_samples: clip lengths (samples) the checks run.

    Raises:
        S2FError: bad work directory, existing version; ExportCheckError if a check fails (then no version
        directory is left behind).

    Example:
    >>> report = export("runs/small", "savedmodels/s2f_small")
    >>> report["saved_model"]["path"]
    'savedmodels/s2f_small/1'
    """
    start = time.time()
    base = Path(out)
    name = base.name
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name or ""):
        raise S2FError(
            f"--out {out}: the last path component names the model; use letters, digits, . _ -"
        )
    if version is None:
        version = next_version(base)
    elif version < 0:
        raise S2FError(f"--version {version}: must be a non-negative integer")
    target = base / str(version)
    if target.exists():
        raise S2FError(f"{target} already exists (versions are never overwritten; omit --version)")

    config, voice_encoder, generator = workdir_layout.load_inference_models(workdir)
    removed = remove_stale_leftovers(base)
    bar = tqdm(total=6, desc="export", disable=not progress, unit="step")

    started = False

    def step(label):  # marks the previous step done and names the next one
        nonlocal started
        bar.update(1 if started else 0)
        bar.set_description(f"export: {label}")
        started = True

    try:
        step("keras reference")
        model = build_inference_model(config, voice_encoder, generator)
        clips = check_clips(config.audio.sample_rate, check_samples)
        tflite_report = {}
        try:
            with atomic_directory(target) as staging:
                step("write SavedModel")
                write_saved_model(model, staging)
                saved_model_bytes = _directory_size(staging)
                step("check SavedModel (session loader)")
                saved_model_report = check_saved_model(staging, model, clips, tolerance)
                step("convert TFLite")
                contents = convert_tflite(model, quantizations) if quantizations else {}
                step("check TFLite (LiteRT)")
                tflite_report = check_tflite(contents, model, clips, tolerance) if contents else {}
                for quantization, content in contents.items():
                    filename = f"{name}_{quantization}.tflite"
                    (staging / filename).write_bytes(content)
                    tflite_report[quantization]["path"] = str(target / filename)
                step("publish")
                report = {
                    "name": name,
                    "version": version,
                    "workdir": str(workdir),
                    "checkpoint": workdir_layout.latest_checkpoint(workdir),
                    "preset": config.name,
                    "saved_model": dict(
                        path=str(target), size_bytes=saved_model_bytes, **saved_model_report
                    ),
                    "tflite": tflite_report,
                    "check_clip_samples": list(check_samples),
                    "removed_stale_leftovers": removed,
                    "tolerance": tolerance,
                    "config_path": str(target / CONTRACT),
                    "report_path": str(target / REPORT),
                    "seconds": round(time.time() - start, 1),
                }
                atomic_write_json(
                    staging / CONTRACT, contract(config, name, version, quantizations)
                )
                atomic_write_json(staging / REPORT, report)
                _make_readable(staging)  # mkdtemp gives 0700; TF Serving may run as another user
        except FileExistsError:
            raise S2FError(f"{target} appeared while exporting; not overwritten") from None
        bar.update(1)
    finally:
        bar.close()
    return report
