"""`FaceApp`: the request logic of `s2f app`, with no web framework.

One model loaded once (`load_model`, as `s2f generate`), audio read exactly as `s2f generate` reads it
(`read_voice`: decode, downmix, resample, webrtcvad) with the same one-line explanations, size limits
checked before decoding, and one lock around the model (the LiteRT interpreter resizes its tensors on
every call and is not thread-safe; TensorFlow would be, but one request at a time keeps the latency of
each predictable on a small CPU). `s2f_tf.serving.page` puts it behind Gradio.

Example:
>>> face_app = FaceApp(load_model("savedmodels/s2f_demo"))
>>> answer = face_app.answer("voice.wav")
>>> answer.face.shape, answer.message
((512, 512, 3), 'voice.wav: used 2.62 s of speech (VAD) of 4.02 s; face in 0.03 s')
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path

import numpy as np
import soundfile

from s2f_tf.audio import to_int16
from s2f_tf.errors import S2FError
from s2f_tf.images import waveform_picture
from s2f_tf.serving import APP_MAX_BYTES as MAX_BYTES
from s2f_tf.serving import APP_MAX_SECONDS as MAX_SECONDS
from s2f_tf.serving.generate import read_voice

FACE_PIXELS = 512  # the face is shown this large, upscaled by an integer factor (nearest neighbour)
NEAREST = 4  # gallery faces shown per request
NO_VAD_HINT = 'untick "keep only speech" to use the whole file'


@dataclasses.dataclass(frozen=True)
class Answer:
    """What the page shows for one request.

    face: uint8 [S*k, S*k, 3], the model's face upscaled k times by pixel repetition (None on error).
    speech: uint8 picture of the waveform the model was given. kept: (sample rate, int16 samples) of it.
    nearest: [(uint8 face, label)] of the nearest gallery identities. message: one line, the error's
    explanation or what was used. error: whether the request failed.
    """

    face: np.ndarray | None = None
    speech: np.ndarray | None = None
    kept: tuple | None = None
    nearest: list = dataclasses.field(default_factory=list)
    message: str = ""
    error: bool = False


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling by an integer factor: every pixel becomes a factor x factor block."""
    return np.asarray(image).repeat(factor, axis=0).repeat(factor, axis=1)


def _seconds(value: float) -> str:
    return f"{value / 60:g} min" if value >= 60 else f"{value:g} s"


class FaceApp:
    """One loaded model answering requests from any thread.

    Args:
        model: a `s2f_tf.serving.inference.load_model` result (SavedModelFaces or TFLiteFaces).
        gallery: a `s2f_tf.serving.gallery.Gallery` or None.
        max_seconds: longest audio accepted, in seconds (checked from the header, then after decoding).
        max_bytes: largest file accepted.
        face_pixels: the face is upscaled by the largest integer factor that stays within this size.
    """

    def __init__(
        self,
        model,
        gallery=None,
        max_seconds: float = MAX_SECONDS,
        max_bytes: int = MAX_BYTES,
        face_pixels: int = FACE_PIXELS,
    ):
        self.model = model
        self.gallery = gallery
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        self.face_pixels = face_pixels
        self.requests = 0
        self._lock = threading.Lock()  # one model call at a time
        self._count_lock = threading.Lock()

    def describe(self) -> str:
        from s2f_tf import bundled

        if self.model.path is not None and Path(self.model.path) == bundled.MODEL:
            return f"bundled: {bundled.DESCRIPTION}"
        kind = "TFLite" if str(self.model.path).endswith(".tflite") else "SavedModel"
        return f"{kind} {self.model.path}"

    def _check_size(self, path, name) -> None:
        size = os.path.getsize(path) if os.path.isfile(path) else 0
        if size > self.max_bytes:
            raise S2FError(
                f"{name}: {size / 1e6:.1f} MB is more than this app accepts"
                f" ({self.max_bytes / 1e6:g} MB); send a shorter recording"
            )
        try:
            info = soundfile.info(str(path))
            seconds = info.frames / info.samplerate
        except (RuntimeError, OSError, ValueError, EOFError, ZeroDivisionError):
            return  # unreadable: read_voice gives the CLI's explanation
        self._check_seconds(seconds, name)

    def _check_seconds(self, seconds, name) -> None:
        if seconds > self.max_seconds:
            raise S2FError(
                f"{name}: {seconds:.1f} s of audio is more than this app accepts"
                f" ({_seconds(self.max_seconds)}); send a shorter recording"
            )

    def run_model(self, samples: np.ndarray) -> tuple[dict, float]:
        """The model's outputs for `samples` and the seconds the call took (not counting the wait for
        the lock)."""
        with self._lock:
            start = time.perf_counter()
            outputs = self.model(samples)
            return outputs, time.perf_counter() - start

    def answer(self, path, vad: bool = True, name=None) -> Answer:
        """The face for the audio file `path` (an upload or a recording); never raises S2FError: a bad
        file gives an Answer with `error` set and the explanation as `message`."""
        with self._count_lock:
            self.requests += 1
        if path is None:
            return Answer(message="Record or upload some speech first.", error=True)
        name = name or Path(path).name
        try:
            self._check_size(path, name)
            samples, total = read_voice(
                path, self.model.audio, vad=vad, name=name, no_vad_hint=NO_VAD_HINT
            )
            self._check_seconds(total, name)
            outputs, seconds = self.run_model(samples)
        except S2FError as error:
            return Answer(message=str(error), error=True)
        face = np.asarray(outputs["face"], np.uint8)
        factor = max(1, self.face_pixels // face.shape[0])
        rate = self.model.sample_rate
        used = len(samples) / rate
        what = "speech (VAD)" if vad else "audio (no VAD)"
        message = f"{name}: used {used:.2f} s of {what} of {total:.2f} s; face in {seconds:.2f} s"
        nearest = []
        if self.gallery is not None:
            nearest = [
                (upscale(self.gallery.faces[i], 2), self.gallery.label(i, similarity))
                for i, similarity in self.gallery.nearest(outputs["embedding"], NEAREST)
            ]
        return Answer(
            face=upscale(face, factor),
            speech=waveform_picture(samples),
            kept=(rate, to_int16(samples)),
            nearest=nearest,
            message=message,
        )
