"""A stand-in for TensorFlow Serving, for testing clients (examples/serving_client.py) without its binary.

The TF Serving binary cannot be installed here (not on PyPI, not in Debian). This serves one SavedModel
version directory the way TF Serving does, as far as a client can tell:
- the model is loaded once with TensorFlow's v1 session loader (tag `serve`), as TF Serving loads it,
  and each request runs the requested signature in that session;
- REST: `POST /v1/models/NAME[/versions/N]:predict` with TF Serving's JSON API: the row format
  `{"signature_name": ..., "instances": [...]}` answered with `{"predictions": [...]}` (one object of
  named outputs per instance when there are several outputs), the columnar format `{"inputs": ...}`
  answered with `{"outputs": {...}}`, binary values as `{"b64": "..."}`; errors as `{"error": "..."}`
  with HTTP 400 (bad request, INVALID_ARGUMENT) or 404 (unknown model);
- gRPC: `tensorflow.serving.PredictionService/Predict` (tensorflow-serving-api's generated servicer),
  TensorProto in and out, INVALID_ARGUMENT / NOT_FOUND statuses.
Every request body is kept in `requests` so tests can check what a client actually sent.
"""

from __future__ import annotations

import base64
import json
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import tensorflow as tf

SERVING_TAG = "serve"


class SessionModel:
    """One SavedModel in a TF1 session; `run(signature, {input: array})` -> {output: array}."""

    def __init__(self, path):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(
                self.session, [SERVING_TAG], str(path)
            )
        self.signatures = dict(meta_graph.signature_def)
        self.lock = threading.Lock()

    def input_names(self, signature):
        return list(self.signatures[signature].inputs)

    def run(self, signature, inputs):
        if signature not in self.signatures:
            raise KeyError(f'Serving signature name: "{signature}" not found in signature def')
        definition = self.signatures[signature]
        unknown = set(inputs) - set(definition.inputs)
        if unknown:
            raise ValueError(f"input(s) {sorted(unknown)} not in signature {signature}")
        feed = {definition.inputs[key].name: value for key, value in inputs.items()}
        fetch = {key: tensor.name for key, tensor in definition.outputs.items()}
        with self.lock:
            return self.session.run(fetch, feed)

    def close(self):
        self.session.close()


def _decode(value):
    """JSON value -> numpy-ready value: {"b64": ...} becomes bytes, lists recurse."""
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _encode(array):
    """numpy -> JSON value (bytes as {"b64": ...}, as TF Serving answers)."""
    array = np.asarray(array)
    if array.dtype.kind in "SO":
        return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()}, otypes=[object])(
            array
        ).tolist()
    return array.tolist()


class StandIn:
    """REST and gRPC servers on 127.0.0.1 (free ports) for `name` -> the SavedModel at `path`.

    Example:
    >>> with StandIn("s2f", "savedmodels/s2f/1") as server:
    ...     server.rest, server.grpc   # "127.0.0.1:PORT" each
    """

    def __init__(self, name, path):
        self.name = name
        self.model = SessionModel(path)
        self.requests = []  # (api, what was received)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.rest = f"127.0.0.1:{self._http.server_address[1]}"
        self._grpc = self._grpc_server()

    # === REST ===

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                status, body = standin.rest_predict(
                    self.path, self.rfile.read(int(self.headers.get("Content-Length", 0)))
                )
                self._reply(status, body)

        return Handler

    def rest_predict(self, path, raw):
        """(HTTP status, JSON body) for one REST request."""
        prefix = f"/v1/models/{self.name}"
        if not path.endswith(":predict"):
            return 404, {"error": f"Malformed request: POST {path}"}
        model_part = path[: -len(":predict")]
        if model_part != prefix and not model_part.startswith(prefix + "/versions/"):
            return 404, {"error": f"Servable not found for request: Latest({model_part})"}
        try:
            body = json.loads(raw)
        except ValueError as error:
            return 400, {"error": f"JSON Parse error: {error}"}
        self.requests.append(("rest", body))
        signature = body.get("signature_name", "serving_default")
        try:
            if "instances" in body:
                names = self.model.input_names(signature)
                instances = [_decode(i) for i in body["instances"]]
                if len(names) == 1 and not all(isinstance(i, dict) for i in instances):
                    inputs = {names[0]: np.array(instances)}
                else:
                    inputs = {k: np.array([i[k] for i in instances]) for k in names}
                outputs = self.model.run(signature, inputs)
                rows = len(next(iter(outputs.values())))
                if len(outputs) == 1:
                    (value,) = outputs.values()
                    return 200, {"predictions": _encode(value)}
                return 200, {
                    "predictions": [
                        {k: _encode(v[row]) for k, v in outputs.items()} for row in range(rows)
                    ]
                }
            if "inputs" in body:
                given = body["inputs"]
                if not isinstance(given, dict):
                    (name,) = self.model.input_names(signature)
                    given = {name: given}
                inputs = {k: np.array(_decode(v)) for k, v in given.items()}
                outputs = self.model.run(signature, inputs)
                return 200, {"outputs": {k: _encode(v) for k, v in outputs.items()}}
            return 400, {"error": "Missing 'inputs' or 'instances' key"}
        except (KeyError, ValueError, tf.errors.OpError) as error:
            message = getattr(error, "message", None) or str(error)
            return 400, {"error": message.splitlines()[0]}

    # === gRPC ===

    def _grpc_server(self):
        import grpc
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

        standin = self

        class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
            def Predict(self, request, context):
                standin.requests.append(("grpc", request))
                if request.model_spec.name != standin.name:
                    context.abort(
                        grpc.StatusCode.NOT_FOUND,
                        f"Servable not found for request: Latest({request.model_spec.name})",
                    )
                signature = request.model_spec.signature_name or "serving_default"
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
                try:
                    outputs = standin.model.run(signature, inputs)
                except (KeyError, ValueError, tf.errors.OpError) as error:
                    message = getattr(error, "message", None) or str(error)
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, message.splitlines()[0])
                response = predict_pb2.PredictResponse()
                response.model_spec.CopyFrom(request.model_spec)
                for key, value in outputs.items():
                    response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
                return response

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        self.grpc = f"127.0.0.1:{port}"
        return server

    # === life ===

    def __enter__(self):
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self._grpc.start()
        return self

    def __exit__(self, *exc):
        self._http.shutdown()
        self._http.server_close()
        self._grpc.stop(grace=None)
        self.model.close()
