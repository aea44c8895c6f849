"""TFLite files of the voice-to-face model: conversion, and the checks that run them in LiteRT.

`convert_tflite` writes the batch-1 `serving_default` endpoint of `export_archive` of the serving graph
(`s2f_tf.serving.graph`) to a temporary SavedModel and converts it with builtin ops only (fp32, fp16
weights, int8 dynamic range). In the int8 file the front end's matrices are switched back to float32
(`restore_float_weights`). `check_tflite` runs every file in
the LiteRT interpreter: fp32 must match Keras within a tolerance, fp16 and int8 report PSNR and relative RMS
error against fp32. `s2f_tf.serving.export` calls both and publishes the files.
"""

from __future__ import annotations

import math
import re

import numpy as np
import tensorflow as tf

from s2f_tf.errors import first_line
from s2f_tf.files import temporary_directory
from s2f_tf.frontend import dft_matrices, mel_filterbank
from s2f_tf.models.voice_to_face import VoiceToFace
from s2f_tf.serving import QUANTIZATIONS
from s2f_tf.serving.archive import TFLITE_NON_FINITE, export_archive
from s2f_tf.serving.checks import ExportCheckError, check_outputs, keras_outputs, max_diff
from s2f_tf.serving.graph import serving_graph

INT8_TARGET_PSNR_DB = 30.0
# The front end of each TFLite file (LogMelSpectrogram(dft=...)). fp32 and int8 take the DFT as matrix
# products (XNNPACK runs them on every thread; the int8 file keeps them float32: +0.72 MB, wen2019's
# file 15.85 MB); fp16 keeps the FFT (float16 DFT coefficients would cost the front end precision).
TFLITE_DFT = {"fp32": "matmul", "fp16": "fft", "int8": "matmul"}
TEMP_PREFIX = "s2f_tflite_"  # the conversion's source SavedModel, in the system temporary folder


# === Conversion ===


def convert_saved_model(source, quantization: str = "fp32") -> bytes:
    """One SavedModel (its `serving_default`) -> TFLite bytes, builtin ops only.

    fp16 stores float16 weights; int8 is dynamic-range quantisation (int8 weights, float activations).
    Raises ExportCheckError naming the ops if the graph would need Flex (select TF) ops.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; choose from {QUANTIZATIONS}")
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(source), signature_keys=["serving_default"]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        return converter.convert()
    except Exception as error:  # convert_phase.ConverterError has no public name
        if type(error).__name__ != "ConverterError":
            raise
        # MLIR's message is pages of source locations; keep the op names.
        flex = re.findall(r"TF Select ops: ([^\n]+)", str(error))
        what = f"non-builtin ops: {flex[0]}" if flex else first_line(error, limit=200)
        raise ExportCheckError(f"TFLite {quantization} conversion failed ({what})") from None


def restore_float_weights(content: bytes, weights: np.ndarray) -> tuple[bytes, int]:
    """Put float32 `weights` back into the int8 FULLY_CONNECTED that dynamic-range conversion made of them.

    A hybrid (int8-weight) FULLY_CONNECTED quantises its *input* to 8 bits per row at run time. For the
    mel filterbank that input is a power spectrum whose range within one frame is far wider than 8 bits, so
    quiet mel bins fall to the log floor (features off by up to ~12 normalised units). The converter has no
    per-op exclusion for dynamic-range quantisation, so the matching weight tensor (same shape, dequantised
    values within one quantisation step) is switched back to float32, which selects the float kernel.
    Returns the new flatbuffer and the number of tensors restored.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    schema = flatbuffer_utils.schema_fb
    weights = np.asarray(weights, np.float32)
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    restored = 0
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) != "FULLY_CONNECTED":
                continue
            tensor = subgraph.tensors[op.inputs[1]]
            quantization = tensor.quantization
            if tensor.type != schema.TensorType.INT8 or list(tensor.shape) != list(weights.shape):
                continue
            scale = np.asarray(quantization.scale, np.float32).reshape(-1, 1)
            stored = np.frombuffer(bytes(model.buffers[tensor.buffer].data), np.int8)
            dequantized = stored.reshape(weights.shape).astype(np.float32) * scale
            if np.max(np.abs(dequantized - weights)) > np.max(scale):
                continue  # same shape, different weights
            model.buffers[tensor.buffer].data = np.frombuffer(weights.tobytes(), np.uint8)
            tensor.type = schema.TensorType.FLOAT32
            tensor.quantization = None
            restored += 1
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), restored


def front_end_weights(audio, dft: str) -> list[np.ndarray]:
    """The FULLY_CONNECTED weights (`[out, in]`) of the front end with `LogMelSpectrogram(dft=dft)`:
    the mel filterbank, or the cosine and sine matrices and the filterbank's used rows."""
    if dft == "matmul":
        return [matrix.T for matrix in dft_matrices(audio)]
    return [mel_filterbank(audio).T]


def convert_tflite(model: VoiceToFace, quantizations=QUANTIZATIONS, dft=None) -> dict[str, bytes]:
    """TFLite flatbuffers `{quantization: bytes}` of `model` with input `waveform [1, None]`.

    What is converted is `serving_graph(model, dft)`: the same function, rewritten for LiteRT
    (`s2f_tf.serving.graph`), with the front end of `TFLITE_DFT[quantization]` unless `dft` names one for
    all. In the int8 file the front end's matrices stay float32 (see `restore_float_weights`).
    """
    by_dft = {}
    for quantization in quantizations:
        by_dft.setdefault(dft or TFLITE_DFT[quantization], []).append(quantization)
    results = {}
    for front_end, group in by_dft.items():
        with temporary_directory(TEMP_PREFIX) as source:
            graph = serving_graph(model, dft=front_end)
            export_archive(graph, batch=1, with_wav=False, tflite=True).write_out(
                str(source), verbose=False
            )
            for quantization in group:
                results[quantization] = convert_saved_model(source, quantization)
        if "int8" in group:
            weights = front_end_weights(model.audio, front_end)
            restored = 0
            for matrix in weights:
                results["int8"], count = restore_float_weights(results["int8"], matrix)
                restored += count
            if restored != len(weights):
                raise ExportCheckError(
                    f"int8 TFLite: expected {len(weights)} front-end FULLY_CONNECTED weights to keep "
                    f"float, found {restored}"
                )
    return {q: results[q] for q in quantizations}


# === The checks (LiteRT) ===


def psnr_db(test: np.ndarray, reference: np.ndarray, peak_to_peak: float = 2.0) -> float:
    """PSNR of `test` against `reference` after clipping both to [-1, 1] (the image range)."""
    test, reference = (np.clip(np.asarray(x, np.float64), -1, 1) for x in (test, reference))
    mse = float(np.mean((test - reference) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(peak_to_peak**2 / mse)


def _finite(value: float):
    return None if math.isinf(value) else round(value, 2)


def tflite_operators(content: bytes) -> list[str]:
    """The distinct operator names of a TFLite model (Flex ops would show as `Flex...`/custom ops)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # Without the default XNNPACK delegate, which would replace the ops it takes with one DELEGATE node.
    interpreter = Interpreter(
        model_content=content,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})


def rejects_non_finite(content: bytes, clip: np.ndarray) -> bool:
    """Whether the interpreter fails to invoke on `clip` with one NaN, +Inf or -Inf sample, and still
    runs the clean clip afterwards."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=content).get_signature_runner("serving_default")
    for value in (np.nan, np.inf, -np.inf):
        poisoned = clip.copy()
        poisoned[len(clip) // 2] = value
        try:
            runner(waveform=poisoned[None])
            return False
        except RuntimeError as error:
            if TFLITE_NON_FINITE not in str(error):
                return False
    return np.isfinite(runner(waveform=clip[None])["face_float"]).all()


def run_tflite_clips(content: bytes, clips) -> list[dict]:
    from s2f_tf.serving.inference import TFLiteFaces

    runner = TFLiteFaces(content)
    return [{k: v[None] for k, v in runner(clip).items()} for clip in clips]


def check_tflite(contents: dict[str, bytes], model: VoiceToFace, clips, tolerance) -> dict:
    """Run every TFLite model on every clip; fp32 vs Keras within `tolerance`, others PSNR vs fp32."""
    references = [keras_outputs(model, clip[None]) for clip in clips]
    outputs = {}
    report = {}
    for quantization, content in contents.items():
        operators = tflite_operators(content)
        flex = [op for op in operators if op.startswith("Flex") or op in ("CUSTOM", "DELEGATE")]
        if flex:
            raise ExportCheckError(f"TFLite {quantization} needs non-builtin ops: {flex}")
        outputs[quantization] = run_tflite_clips(content, clips)
        for clip, got, want in zip(clips, outputs[quantization], references, strict=True):
            check_outputs(got, want, batch=1, where=f"TFLite {quantization} ({len(clip)} samples)")
        diffs = [
            max_diff(g["face_float"], w["face_float"])
            for g, w in zip(outputs[quantization], references, strict=True)
        ]
        if not rejects_non_finite(content, min(clips, key=len)):
            raise ExportCheckError(f"TFLite {quantization} ran a waveform with non-finite samples")
        report[quantization] = {
            "size_bytes": len(content),
            "operators": operators,
            "max_abs_diff_face_float_vs_keras": max(diffs),
            "rejects_non_finite": True,
        }
    if "fp32" in outputs:
        worst = report["fp32"]["max_abs_diff_face_float_vs_keras"]
        if not worst <= tolerance:
            raise ExportCheckError(
                f"TFLite fp32 differs from the Keras model by {worst:.3g} (> {tolerance:g})"
            )
        reference = outputs["fp32"]
        for quantization in set(outputs) - {"fp32"}:
            got = outputs[quantization]
            per_clip = [
                psnr_db(g["face_float"], r["face_float"])
                for g, r in zip(got, reference, strict=True)
            ]
            pooled = psnr_db(
                np.concatenate([g["face_float"].ravel() for g in got]),
                np.concatenate([r["face_float"].ravel() for r in reference]),
            )
            report[quantization]["psnr_db_vs_fp32"] = _finite(pooled)
            report[quantization]["relative_rms_error_vs_fp32"] = _relative_rms(got, reference)
            report[quantization]["min_clip_psnr_db_vs_fp32"] = _finite(min(per_clip))
        if "int8" in report:
            pooled = report["int8"]["psnr_db_vs_fp32"]
            report["int8"]["psnr_target_db"] = INT8_TARGET_PSNR_DB
            report["int8"]["psnr_target_met"] = pooled is None or pooled >= INT8_TARGET_PSNR_DB
    return report


def _relative_rms(got, reference) -> float:
    """rms(test - fp32) / rms(fp32) of face_float: meaningful even when outputs are tiny (random weights)."""
    test = np.concatenate([g["face_float"].ravel() for g in got]).astype(np.float64)
    ref = np.concatenate([r["face_float"].ravel() for r in reference]).astype(np.float64)
    return float(np.sqrt(np.mean((test - ref) ** 2) / max(np.mean(ref**2), 1e-30)))
