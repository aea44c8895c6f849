"""`s2f app`: a local web page on an exported model: speak or upload, see the face the model draws.

`FaceApp` is the request logic and needs no web framework: one model loaded once (`load_model`, as
`s2f generate`), audio read exactly as `s2f generate` reads it (`read_voice`: decode, downmix, resample,
webrtcvad) with the same one-line explanations, size limits checked before decoding, and one lock around
the model (the LiteRT interpreter resizes its tensors on every call and is not thread-safe; TensorFlow
would be, but one request at a time keeps the latency of each predictable on a small CPU). `build_page`
and `serve` put it behind Gradio, imported only there (the optional extra `app`).

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
from s2f_tf.errors import S2FError, first_line
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


# === The page (Gradio) ===

CSS = """
#s2f-face img, #s2f-nearest img { image-rendering: pixelated; }
#s2f-message { font-size: 1.05em; }
"""


def markdown_text(text: str) -> str:
    """`text` shown as it is in Markdown (file names may hold `_`, `*`, `[`...)."""
    return "".join("\\" + c if c in "\\`*_[]<>#|" else c for c in text)


def import_gradio():
    """Gradio, or S2FError with how to install it (the optional extra `app`)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    try:
        import gradio
    except ImportError:
        raise S2FError(
            "the web app needs Gradio, which is not installed: pip install 's2f_tf[app]'"
        ) from None
    return gradio


def build_page(face_app: FaceApp, concurrency: int = 4):
    """The Gradio Blocks page of `face_app`. Requests run up to `concurrency` at a time (reading and
    VAD in parallel; the model call holds FaceApp's lock); its API name is `/generate`."""
    from s2f_tf.audio import FORMATS  # the formats `s2f generate --help` lists (each decode-tested)

    gr = import_gradio()
    model = face_app.model
    # delete_cache: uploads and results older than 30 minutes are removed every 10 minutes, and all of
    # them when the app stops (recordings of voices should not pile up in the temporary folder).
    with gr.Blocks(
        title="s2f: voice to face", analytics_enabled=False, delete_cache=(600, 1800)
    ) as page:
        gr.Markdown(
            "# Voice → face\n"
            f"Record your voice or upload a recording ({', '.join(FORMATS)}; any rate, mono or"
            " stereo). "
            "The model hears only the speech that voice activity detection keeps and draws the face "
            f"it associates with it.  \nModel: `{face_app.describe()}` · "
            f"{model.audio.sample_rate} Hz · limit {_seconds(face_app.max_seconds)} or "
            f"{face_app.max_bytes / 1e6:g} MB per recording"
        )
        with gr.Row():
            with gr.Column(scale=1):
                voice = gr.Audio(
                    sources=["microphone", "upload"],
                    type="filepath",
                    label="Your voice",
                    elem_id="s2f-voice",
                )
                vad = gr.Checkbox(value=True, label="keep only speech (voice activity detection)")
                button = gr.Button("Draw the face", variant="primary")
                message = gr.Markdown(elem_id="s2f-message")
                speech = gr.Image(
                    label="Speech the model heard",
                    format="png",
                    interactive=False,
                    height=130,
                    elem_id="s2f-speech",
                )
                kept = gr.Audio(label="Play it", interactive=False, elem_id="s2f-kept")
            with gr.Column(scale=1):
                face = gr.Image(
                    label="The face (nearest-neighbour upscaled)",
                    format="png",
                    type="numpy",
                    interactive=False,
                    height=560,
                    elem_id="s2f-face",
                )
        if face_app.gallery is not None:
            gallery = face_app.gallery
            nearest = gr.Gallery(
                label=(
                    f"Nearest of {len(gallery)} training identities by voice embedding"
                    f" (real faces from {gallery.source})"
                ),
                format="png",
                columns=NEAREST,
                rows=1,
                height="auto",
                object_fit="contain",
                allow_preview=False,
                elem_id="s2f-nearest",
            )
        else:
            nearest = gr.Gallery(visible=False)
            gr.Markdown(
                "_No gallery: start with `--gallery DATA` (a dataset of `s2f prepare`) to see the real "
                "faces of the training identities whose voices are nearest to yours._"
            )

        def respond(path, use_vad):
            answer = face_app.answer(path, vad=use_vad)
            text = markdown_text(answer.message)
            text = f"**Could not draw a face:** {text}" if answer.error else text
            return answer.face, answer.speech, answer.kept, answer.nearest, text

        gr.on(
            triggers=[voice.upload, voice.stop_recording, button.click],
            fn=respond,
            inputs=[voice, vad],
            outputs=[face, speech, kept, nearest, message],
            api_name="generate",
            concurrency_limit=concurrency,
        )
    return page


def serve(face_app: FaceApp, host: str = "127.0.0.1", port: int = 0, concurrency: int = 4):
    """Start the page in background threads; returns (page, url). `port=0` picks a free port."""
    gr = import_gradio()
    page = build_page(face_app, concurrency)
    if port == 0:
        port = free_port(host)
    theme = gr.themes.Default(  # system fonts: the page fetches nothing from other sites
        font=["ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "monospace"],
    )
    try:
        page.queue(default_concurrency_limit=concurrency).launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=True,
            quiet=True,
            share=False,
            inbrowser=False,
            show_error=True,
            ssr_mode=False,
            max_file_size=face_app.max_bytes,
            theme=theme,
            css=CSS,
        )
    except OSError as error:
        page.close()
        raise S2FError(
            f"cannot listen on {host}:{port} ({first_line(error, limit=2000)}); choose another --port"
        ) from None
    shown = f"[{host}]" if ":" in host else host
    return page, f"http://{shown}:{port}/"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` now."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def request(url: str, path, vad: bool = True, http=None) -> dict:
    """Send one recording to a running app through Gradio's REST API (what the page's "Use via API"
    describes): upload, call `/generate`, read the event stream. Needs httpx (installed with Gradio).

    Returns {"face": URL of the face PNG or None, "message": the message line, "nearest": the gallery's
    entries}.
    """
    import json

    import httpx

    client = http or httpx.Client(timeout=120)
    api = url.rstrip("/") + "/gradio_api/"
    try:
        with open(path, "rb") as audio:
            uploaded = client.post(api + "upload", files={"files": (Path(path).name, audio)})
        uploaded.raise_for_status()
        voice = {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}}
        call = client.post(api + "call/generate", json={"data": [voice, vad]})
        call.raise_for_status()
        with client.stream("GET", api + f"call/generate/{call.json()['event_id']}") as stream:
            lines = list(stream.iter_lines())
    finally:
        if http is None:
            client.close()
    if "event: complete" not in lines:
        raise RuntimeError(f"{url}: the request failed: {' '.join(lines)[-300:]}")
    face, _speech, _kept, nearest, message = json.loads(
        [line for line in lines if line.startswith("data:")][-1][len("data:") :]
    )
    return {"face": face["url"] if face else None, "message": message, "nearest": nearest or []}
