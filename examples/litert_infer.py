"""A face from a voice recording with an exported `.tflite` file and LiteRT's signature runner.

The file takes the raw waveform: the front end, the encoder and the generator are all in the graph, so
the only work left to the app is reading 16 kHz mono samples. The signature `serving_default` takes
`waveform` float32 `[1, samples]` of any length (even shorter than one 25 ms frame) and returns `face`
(uint8 `[1, 64, 64, 3]`), `face_float` and `embedding` by name. The signature runner resizes the input
and allocates tensors for every new length itself; the interpreter's raw output details are named
`StatefulPartitionedCall:N`, not `face`, so look outputs up through the signature, as here.

    python examples/litert_infer.py --model savedmodels/s2f_demo/1/s2f_demo_int8.tflite \
        --wav my_voice.wav --out face.png

Needs `ai-edge-litert`, numpy and Pillow; reading the recording uses `s2f_tf.audio` (any rate and
channel count, WAV/FLAC/MP3/OGG; voice activity detection as `s2f generate`).
"""

import argparse
import json
import sys

# --- snippet: litert (README.md, "LiteRT in Python") ---
import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

from s2f_tf.audio import load_audio, voiced


def load_runner(tflite_path, threads=2):
    """The signature runner of an exported .tflite file: inputs and outputs by name."""
    return Interpreter(model_path=tflite_path, num_threads=threads).get_signature_runner()


def face_from_voice(runner, wav_path, vad=True):
    """uint8 [64, 64, 3]: the face for an audio file (any format, rate, channels or length)."""
    waveform = load_audio(wav_path, 16000)  # float32 [samples], 16 kHz mono, in [-1, 1]
    if vad:  # keep the speech only, as `s2f generate` does
        waveform = voiced(waveform).astype(np.float32) / 32768.0
    if waveform.size == 0:
        raise ValueError(f"{wav_path}: no speech detected (--no-vad uses the whole file)")
    outputs = runner(waveform=waveform[None, :])  # resized and allocated for this length
    return outputs["face"][0]  # also outputs["embedding"][0], outputs["face_float"][0]


# --- end snippet ---


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="an exported .tflite file")
    parser.add_argument("--wav", required=True, nargs="+", help="audio files")
    parser.add_argument("--out", required=True, help="PNG path; with several files, OUT_1.png ...")
    parser.add_argument("--no-vad", dest="vad", action="store_false", help="use the whole file")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    runner = load_runner(args.model, args.threads)
    for number, path in enumerate(args.wav, start=1):
        face = face_from_voice(runner, path, args.vad)
        out = args.out if len(args.wav) == 1 else args.out.removesuffix(".png") + f"_{number}.png"
        Image.fromarray(face).save(out)
        print(json.dumps({"wav": path, "png": out}), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # a bad file or model: one line, no traceback
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        sys.exit(print(f"litert_infer.py: error: {message}", file=sys.stderr) or 2)
