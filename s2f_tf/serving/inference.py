"""Running an exported model: a SavedModel version directory or a `.tflite` file, one waveform at a time.

Example:
>>> model = load_model("savedmodels/s2f_small/1")          # or ".../1/s2f_small_int8.tflite"
>>> outputs = model(waveform)                              # float32 [samples] at model.sample_rate
>>> outputs["face"].shape, outputs["face"].dtype
((64, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from s2f_tf.errors import S2FError, first_line
from s2f_tf.serving import CONTRACT, NON_FINITE

DEFAULT_SAMPLE_RATE = 16000


def _waveform_batch(waveform) -> np.ndarray:
    """float32 `[1, samples]`; S2FError for anything but a finite 1-D waveform (models made before the
    in-graph check, and the app, get the same refusal as the exported graphs give)."""
    try:
        batch = np.asarray(waveform, np.float32)
    except (TypeError, ValueError) as error:
        raise S2FError(f"the waveform is not an array of numbers ({error})") from None
    if batch.ndim != 1:
        raise S2FError(f"the waveform must be 1-D [samples], got shape {batch.shape}")
    if not np.isfinite(batch).all():
        raise S2FError(NON_FINITE)
    return batch[None, :]


def _audio_config(contract: dict):
    from s2f_tf.config import AudioConfig, Config

    if "config" in contract:
        return Config.from_dict(contract["config"]).audio
    return AudioConfig(sample_rate=contract.get("sample_rate", DEFAULT_SAMPLE_RATE))


def _contract(directory: Path) -> dict:
    path = directory / CONTRACT
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class SavedModelFaces:
    """A SavedModel version directory: `faces(waveform [samples]) -> {"face", "face_float", "embedding"}`.

    Runs the `serving_default` signature with a batch of one; outputs lose the batch axis.

    Args:
        path: the version directory (holding saved_model.pb).
    """

    def __init__(self, path):
        import tensorflow as tf

        self.path = Path(path)
        try:
            loaded = tf.saved_model.load(str(self.path))
        except Exception as error:  # damaged files fail in many ways: IndexError, DecodeError...
            raise S2FError(
                f"{self.path}: not a loadable SavedModel ({first_line(error, limit=200)})"
            ) from None
        if "serving_default" not in loaded.signatures:
            raise S2FError(f"{self.path}: the SavedModel has no serving_default signature")
        self._loaded = loaded  # keeps the variables alive
        self._signature = loaded.signatures["serving_default"]
        self.audio = _audio_config(_contract(self.path))
        self.sample_rate = self.audio.sample_rate

    def __call__(self, waveform: np.ndarray) -> dict:
        import tensorflow as tf

        batch = _waveform_batch(waveform)
        try:
            outputs = self._signature(waveform=batch)
        except tf.errors.OpError as error:
            raise S2FError(
                f"{self.path}: the model failed ({first_line(error, limit=200)})"
            ) from None
        return {key: value.numpy()[0] for key, value in outputs.items()}


class TFLiteFaces:
    """A TFLite model (path or flatbuffer bytes) in the LiteRT interpreter; same call as SavedModelFaces.

    The input is `waveform [1, None]`; the signature runner resizes the input tensor and re-allocates
    tensors for every new length.

    Args:
        model: a `.tflite` path or its bytes.
        num_threads: interpreter threads (default: LiteRT's choice).
    """

    def __init__(self, model, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        try:
            if isinstance(model, bytes | bytearray):
                self.path = None
                interpreter = Interpreter(model_content=bytes(model), num_threads=num_threads)
            else:
                self.path = Path(model)
                interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
            self._runner = interpreter.get_signature_runner("serving_default")
        except (ValueError, RuntimeError) as error:
            raise S2FError(
                f"{model if self.path else 'model'}: not a usable TFLite model ({first_line(error, limit=200)})"
            ) from None
        self._interpreter = interpreter
        contract = _contract(self.path.parent) if self.path else {}
        self.audio = _audio_config(contract)
        self.sample_rate = self.audio.sample_rate

    def __call__(self, waveform: np.ndarray) -> dict:
        batch = _waveform_batch(waveform)
        try:
            outputs = self._runner(waveform=batch)
        except (RuntimeError, ValueError) as error:
            where = self.path or "the TFLite model"
            raise S2FError(f"{where}: the model failed ({first_line(error, limit=200)})") from None
        return {key: np.array(value[0]) for key, value in outputs.items()}


def resolve_model_path(path) -> Path:
    """A `.tflite` file, a SavedModel version directory, a base path (its highest version), or "bundled"
    (the model shipped in the package, `s2f_tf.bundled`; `./bundled` names a folder of that name)."""
    from s2f_tf import bundled

    if str(path) == bundled.NAME:
        return bundled.model_path()
    path = Path(path)
    if path.is_file():
        if path.suffix != ".tflite":
            raise S2FError(f"{path}: not a .tflite file or a SavedModel directory")
        return path
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return path
        versions = sorted(
            (int(p.name) for p in path.iterdir() if p.is_dir() and p.name.isdigit()), reverse=True
        )
        for version in versions:
            if (path / str(version) / "saved_model.pb").is_file():
                return path / str(version)
        raise S2FError(f"{path}: no saved_model.pb here or in a numbered version directory")
    raise S2FError(f"{path}: no such model file or directory")


def load_model(path, num_threads: int | None = None):
    """`SavedModelFaces` or `TFLiteFaces` for `path` (see `resolve_model_path`)."""
    path = resolve_model_path(path)
    if path.suffix == ".tflite":
        return TFLiteFaces(path, num_threads=num_threads)
    return SavedModelFaces(path)
