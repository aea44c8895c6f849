"""`s2f app`: a local web page on an exported model: speak or upload, see the face the model draws.

`FaceApp` is the request logic and needs no web framework: one model loaded once (`load_model`, as
`s2f generate`), audio read exactly as `s2f generate` reads it (`read_voice`: decode, downmix, resample,
webrtcvad) with the same one-line explanations, size limits checked before decoding, and one lock around
the model (the LiteRT interpreter resizes its tensors on every call and is not thread-safe; TensorFlow
would be, but one request at a time keeps the latency of each predictable on a small CPU). `build_page`
and `serve` put it behind Gradio, imported only there (the optional extra `app`).

The request logic is `s2f_tf.serving.face_app`, the page `s2f_tf.serving.page`; this module names both.

Example:
>>> face_app = FaceApp(load_model("savedmodels/s2f_demo"))
>>> answer = face_app.answer("voice.wav")
>>> answer.face.shape, answer.message
((512, 512, 3), 'voice.wav: used 2.62 s of speech (VAD) of 4.02 s; face in 0.03 s')
"""

from s2f_tf.serving.face_app import FACE_PIXELS, NEAREST, NO_VAD_HINT, Answer, FaceApp, upscale
from s2f_tf.serving.page import (
    CSS,
    build_page,
    free_port,
    import_gradio,
    is_loopback,
    markdown_text,
    request,
    serve,
)

__all__ = [
    "CSS",
    "FACE_PIXELS",
    "NEAREST",
    "NO_VAD_HINT",
    "Answer",
    "FaceApp",
    "build_page",
    "free_port",
    "import_gradio",
    "is_loopback",
    "markdown_text",
    "request",
    "serve",
    "upscale",
]
