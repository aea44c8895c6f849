"""Faces from TensorFlow Serving: REST `predict` with base64 WAV bytes, and gRPC `Predict`.

Serve an export (`s2f export ... --out savedmodels/s2f_demo`) with TF Serving:

    docker run -p 8500:8500 -p 8501:8501 -v "$PWD/savedmodels/s2f_demo:/models/s2f_demo" \
        -e MODEL_NAME=s2f_demo tensorflow/serving
    python examples/serving_client.py --model s2f_demo --wav my_voice.wav \
        --rest localhost:8501 --grpc localhost:8500 --out face.png

The recording is read as `s2f generate` reads it (any format, rate and channel count; the voiced part
only), sent as a 16 kHz 16-bit WAV file to the `from_wav` signature (which decodes it in the graph), and
the `face` output (uint8 [64, 64, 3]) is written as a PNG: `face.png` from REST, `face_grpc.png` from
gRPC. gRPC needs `pip install 's2f_tf[serving]'` (tensorflow-serving-api, grpcio).

Tested without TF Serving: its binary cannot be installed where this project is developed and tested
(neither PyPI nor Debian packages it), so tests/test_examples.py runs this client against a stand-in
(tests/serving_standin.py) that loads the exported SavedModel with TensorFlow's v1 session loader, as
TF Serving does, and speaks the same protocols: `POST /v1/models/NAME:predict` with TF Serving's JSON
(`{"signature_name": ..., "instances": [{"b64": ...}]}` -> `{"predictions": [{output: value}]}`) and
the `tensorflow.serving.PredictionService/Predict` gRPC method. The real server is not exercised.
"""

import argparse
import base64
import io
import json
import sys
import urllib.error
import urllib.request

import numpy as np
import soundfile
from PIL import Image

from s2f_tf.audio import load_audio, voiced

SIGNATURE = "from_wav"  # encoded WAV strings [batch] -> face, face_float, embedding


def wav_bytes(path) -> bytes:
    """The voiced part of `path` as 16 kHz mono 16-bit WAV bytes (what `from_wav` takes)."""
    samples = voiced(load_audio(path, 16000))  # int16, 16 kHz
    if samples.size == 0:
        raise ValueError(f"{path}: no speech detected")
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, 16000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


# --- snippet: rest (README.md, "TF Serving") ---
def predict_rest(host, model, wav):
    """REST: JSON with the WAV bytes as {"b64": ...}; returns {"face": uint8 [64, 64, 3], ...}."""
    body = {"signature_name": SIGNATURE, "instances": [{"b64": base64.b64encode(wav).decode()}]}
    request = urllib.request.Request(
        f"http://{host}/v1/models/{model}:predict",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        (prediction,) = json.load(response)["predictions"]
    return {"face": np.array(prediction["face"], np.uint8), "embedding": prediction["embedding"]}


# --- end snippet ---


# --- snippet: grpc (README.md, "TF Serving") ---
def predict_grpc(target, model, wav):
    """gRPC PredictionService/Predict; returns {"face": uint8 [64, 64, 3], ...}."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = SIGNATURE
    request.inputs["wav"].CopyFrom(tf.make_tensor_proto([wav], dtype=tf.string))
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=60)
    return {
        "face": tf.make_ndarray(response.outputs["face"])[0],
        "embedding": tf.make_ndarray(response.outputs["embedding"])[0],
    }


# --- end snippet ---


def _reason(error) -> str:
    """One line for a failed request (HTTP status and TF Serving's {"error": ...}, or gRPC's status)."""
    if isinstance(error, urllib.error.HTTPError):
        try:
            detail = json.loads(error.read().decode()).get("error", "")
        except ValueError:
            detail = ""
        return f"HTTP {error.code}: {detail or error.reason}".splitlines()[0]
    code = getattr(error, "code", None)
    if callable(code) and callable(getattr(error, "details", None)):  # grpc.RpcError
        return f"gRPC {code().name}: {error.details()}".splitlines()[0]
    return (str(error) or type(error).__name__).splitlines()[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the served model's name (MODEL_NAME)")
    parser.add_argument("--wav", required=True, help="an audio file")
    parser.add_argument("--rest", help="host:port of the REST API (TF Serving: 8501)")
    parser.add_argument("--grpc", help="host:port of the gRPC API (TF Serving: 8500)")
    parser.add_argument("--out", required=True, help="PNG path (gRPC's face: NAME_grpc.png)")
    args = parser.parse_args(argv)
    if not (args.rest or args.grpc):
        parser.error("give --rest, --grpc or both")
    wav = wav_bytes(args.wav)
    summary = {"wav": args.wav, "wav_bytes": len(wav)}
    faces = {}
    for api, address, call in (
        ("rest", args.rest, predict_rest),
        ("grpc", args.grpc, predict_grpc),
    ):
        if not address:
            continue
        try:
            result = call(address, args.model, wav)
        except Exception as error:
            raise RuntimeError(f"{api} request to {address} failed: {_reason(error)}") from None
        out = args.out if api == "rest" or not args.rest else args.out[:-4] + "_grpc.png"
        Image.fromarray(result["face"]).save(out)
        faces[api] = result["face"]
        summary[api] = {"png": out, "embedding": [round(float(v), 6) for v in result["embedding"]]}
    if len(faces) == 2:
        summary["rest_grpc_max_difference"] = int(
            np.abs(faces["rest"].astype(int) - faces["grpc"].astype(int)).max()
        )
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # a bad file, an unreachable server: one line, no traceback
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        sys.exit(print(f"serving_client.py: error: {message}", file=sys.stderr) or 2)
