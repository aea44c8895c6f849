"""The SavedModel of the TF Serving layout: writing it, and checking it through the TF1 session loader
(what TF Serving runs) against the Keras model.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile
import tensorflow as tf

from s2f_tf.models.voice_to_face import VoiceToFace
from s2f_tf.serving import FP32_TOLERANCE, NON_FINITE
from s2f_tf.serving.archive import export_archive
from s2f_tf.serving.checks import ExportCheckError, check_outputs, keras_outputs, max_diff
from s2f_tf.serving.graph import serving_graph

SERVING_TAG = "serve"
# The SavedModel's front end: TensorFlow's RFFT is fast on CPU, and the DFT as matrix products (what the
# fp32 TFLite file runs) measured no faster there (benchmarks/RESULTS-inference.md).
SAVED_MODEL_DFT = "fft"


def write_saved_model(model: VoiceToFace, path) -> Path:
    """The SavedModel of `serving_graph(model, dft=SAVED_MODEL_DFT)`: the same function as `model`, with
    the generator as plain convolutions (`s2f_tf.serving.graph`)."""
    export_archive(serving_graph(model, dft=SAVED_MODEL_DFT)).write_out(str(path), verbose=False)
    return Path(path)


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
        want = keras_outputs(model, waveform)
        check_outputs(got, want, batch=2, where=f"SavedModel serving_default ({len(clip)} samples)")
        diffs["serving_default"].append(max_diff(got["face_float"], want["face_float"]))
        face_diffs.append(max_diff(got["face"], want["face"]))

    # from_wav: files of different lengths in one request, one of them stereo.
    long, short = max(batches, key=len), min(clips, key=len)
    stereo = np.stack([short, 0.5 * short[::-1]], axis=1)
    wavs = [wav_bytes(long, rate), wav_bytes(stereo, rate)]
    got = run_session(path, "from_wav", {"wav": np.array(wavs, dtype=object)})
    for i, audio in enumerate([long[:, None], stereo]):
        decoded, _ = soundfile.read(io.BytesIO(wavs[i]), dtype="float32", always_2d=True)
        want = keras_outputs(model, decoded.mean(axis=1, dtype=np.float32)[None])
        one = {key: value[i : i + 1] for key, value in got.items()}
        check_outputs(one, want, batch=1, where=f"SavedModel from_wav (file {i}, {audio.shape})")
        diffs["from_wav"].append(max_diff(one["face_float"], want["face_float"]))

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
