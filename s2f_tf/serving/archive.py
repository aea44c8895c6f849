"""The one `keras.export.ExportArchive` of the voice -> face model, that the SavedModel and TFLite writers
both trace (never a plain `tf.Module`: see docs/recipe.md, TensorFlow pitfall 1), and the non-finite input guards it carries.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from s2f_tf.models.voice_to_face import VoiceToFace
from s2f_tf.serving import NON_FINITE

TFLITE_NON_FINITE = "gather index out of bounds"  # how LiteRT reports `refuse_non_finite_tflite`


def refuse_non_finite(waveform, where: str = "serving_default"):
    """`waveform` unchanged, or an InvalidArgumentError naming the problem if a sample is NaN or +-Inf.

    In the SavedModel's signatures: TF Serving answers such a request with that error instead of a
    black face and a NaN embedding (one NaN sample poisons the whole utterance's normalisation).
    """
    return tf.debugging.assert_all_finite(waveform, f"{where}: {NON_FINITE}")


def refuse_non_finite_tflite(waveform):
    """`waveform` unchanged, or a failed interpreter invoke if a sample is NaN or +-Inf; builtin ops only.

    TFLite has no assert among its builtin ops, and the converter silently drops CheckNumerics, so
    `refuse_non_finite` would vanish from a .tflite file. Instead: sum(waveform * 0) is 0 for finite
    samples and NaN otherwise; that picks index 0 or 1 of a one-element GATHER, and an index out of
    range makes LiteRT fail the invoke ("gather index out of bounds"; the interpreter stays usable).
    """
    poisoned = tf.reduce_sum(waveform * 0.0)
    index = tf.cast(tf.not_equal(poisoned, 0.0), tf.int32)
    return waveform * tf.gather(tf.ones([1], waveform.dtype), index)


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
