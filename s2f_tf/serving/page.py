"""The page of `s2f app`: a `FaceApp` behind Gradio (imported only here: the optional extra `app`).

`build_page` lays out the Gradio Blocks page (voice in; face, the speech kept and the nearest training
identities out), `serve` starts it on a port, and `request` sends one recording to a running page
through Gradio's REST API, as the page's "Use via API" describes.
"""

from __future__ import annotations

import os
from pathlib import Path

from s2f_tf.errors import S2FError, first_line
from s2f_tf.serving.face_app import NEAREST, FaceApp, _seconds

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
    gr = import_gradio()
    # delete_cache: uploads and results older than 30 minutes are removed every 10 minutes, and all of
    # them when the app stops (recordings of voices should not pile up in the temporary folder).
    with gr.Blocks(
        title="s2f: voice to face", analytics_enabled=False, delete_cache=(600, 1800)
    ) as page:
        gr.Markdown(_introduction(face_app))
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
        nearest = _nearest_gallery(gr, face_app.gallery)

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


def _introduction(face_app: FaceApp) -> str:
    """The page's heading and what it does, with the model's name, rate and size limits."""
    from s2f_tf.audio import FORMATS  # the formats `s2f generate --help` lists (each decode-tested)

    return (
        "# Voice → face\n"
        f"Record your voice or upload a recording ({', '.join(FORMATS)}; any rate, mono or"
        " stereo). "
        "The model hears only the speech that voice activity detection keeps and draws the face "
        f"it associates with it.  \nModel: `{face_app.describe()}` · "
        f"{face_app.model.audio.sample_rate} Hz · limit {_seconds(face_app.max_seconds)} or "
        f"{face_app.max_bytes / 1e6:g} MB per recording"
    )


def _nearest_gallery(gr, gallery):
    """The gallery of the nearest training identities' real faces, or (without one) a hidden gallery
    and a line saying how to get it."""
    if gallery is not None:
        return gr.Gallery(
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
    nearest = gr.Gallery(visible=False)
    gr.Markdown(
        "_No gallery: start with `--gallery DATA` (a dataset of `s2f prepare`) to see the real "
        "faces of the training identities whose voices are nearest to yours._"
    )
    return nearest


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
