"""`s2f app`: start-up time and per-request latency, for the SavedModel and the TFLite files of one export.

    python benchmarks/app_latency.py --model savedmodels/s2f_demo [--gallery demo_out/data] [--runs 10]

For each artifact (the SavedModel version directory, NAME_fp32.tflite, NAME_int8.tflite) the app is
started as a user starts it (`python -m s2f_tf app --model ...`, a fresh process) and timed from the
process start to the printed URL; then --runs requests per clip length are sent through Gradio's REST
API (upload, call, event stream, download of the face: what a user waits for, minus the browser's
drawing), one at a time after one warm-up request, and the app is stopped with SIGINT. "answer" is
the same request without HTTP, timed in this process (`FaceApp.answer`: reading, VAD, the model, the
pictures, the gallery lookup); "model" is the model call alone on the speech VAD kept. Medians of --runs
after one warm-up. The clips are synthetic speech (s2f_tf.synth) with pauses, 5 s and 30 s long. Prints
a markdown table and a JSON summary last.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECONDS = (5, 30)


def write_clips(folder: Path) -> dict:
    import numpy as np
    import soundfile

    from s2f_tf.synth.voices import Recording, VoiceTraits, synthesize

    clips = {}
    for seconds in SECONDS:
        rng = np.random.default_rng(seconds)
        wave = synthesize(VoiceTraits(f0=150.0), Recording(seconds=seconds * 0.8), rng)
        path = folder / f"speech_{seconds}s.wav"
        soundfile.write(path, wave[: seconds * 16000], 16000, subtype="PCM_16")
        clips[seconds] = path
    return clips


def start_app(model, gallery, folder: Path):
    args = [sys.executable, "-m", "s2f_tf", "app", "--model", str(model)]
    if gallery:
        args += ["--gallery", str(gallery)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", GRADIO_TEMP_DIR=str(folder / "gradio"))
    start = time.perf_counter()
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    for line in process.stdout:
        match = re.match(r"^s2f app: serving (http://\S+/) ", line)
        if match:
            return process, match.group(1), time.perf_counter() - start
    raise RuntimeError(f"s2f app --model {model} did not start (exit {process.wait()})")


def stop_app(process) -> int:
    process.send_signal(signal.SIGINT)
    code = process.wait(60)
    process.stdout.close()
    return code


def time_requests(url, clips, runs) -> dict:
    """Median wall time of --runs requests per clip over HTTP (after one warm-up request).

    gradio_client is not used here: its polling adds about 3 s per request on this machine, while the
    same request sent as below takes a few hundred ms."""
    import httpx

    from s2f_tf.serving.app import request

    def one(http, path):
        answer = request(url, path, http=http)
        http.get(answer["face"]).raise_for_status()  # the browser fetches the face too
        return answer["message"]

    result = {}
    with httpx.Client(timeout=120) as http:
        for seconds, path in clips.items():
            one(http, path)  # warm-up
            wall = []
            for _ in range(runs):
                start = time.perf_counter()
                message = one(http, path)
                wall.append(time.perf_counter() - start)
            result[seconds] = {"http_median_ms": _median_ms(wall), "message": message}
    return result


def _median_ms(samples) -> float:
    return round(1000 * statistics.median(samples), 1)


def _timed(fn, runs) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return _median_ms(samples)


def answer_times(model_path, gallery, clips, runs) -> dict:
    """In this process (no HTTP), median ms per clip length: FaceApp.answer, and the model call alone
    on the samples VAD kept."""
    from s2f_tf.serving.app import FaceApp
    from s2f_tf.serving.generate import read_voice
    from s2f_tf.serving.inference import load_model

    model = load_model(model_path)
    if gallery:
        from s2f_tf.serving.gallery import Gallery

        gallery = Gallery.from_dataset(gallery, model)
    face_app = FaceApp(model, gallery)
    result = {}
    for seconds, path in clips.items():
        samples, _ = read_voice(path, model.audio)
        result[seconds] = {
            "answer_median_ms": _timed(lambda p=path: face_app.answer(p), runs),
            "model_median_ms": _timed(lambda s=samples: face_app.run_model(s), runs),
            "speech_seconds": round(len(samples) / model.sample_rate, 2),
        }
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="savedmodels/s2f_demo", help="model base path or version"
    )
    parser.add_argument("--gallery", help="prepared dataset for the nearest faces (optional)")
    parser.add_argument("--runs", type=int, default=10, help="timed requests per clip length")
    parser.add_argument(
        "--tflite", nargs="*", default=["fp32", "int8"], help="TFLite files to time"
    )
    args = parser.parse_args(argv)

    from s2f_tf.serving.inference import resolve_model_path

    version = resolve_model_path(args.model)
    artifacts = {"SavedModel": version}
    for quantization in args.tflite:
        path = version / f"{version.parent.name}_{quantization}.tflite"
        if path.is_file():
            artifacts[f"TFLite {quantization}"] = path
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        clips = write_clips(folder)
        for label, path in artifacts.items():
            process, url, startup = start_app(path, args.gallery, folder)
            try:
                http = time_requests(url, clips, args.runs)
            finally:
                code = stop_app(process)
            answer = answer_times(path, args.gallery, clips, args.runs)
            rows.append(
                {
                    "artifact": label,
                    "path": str(path),
                    "startup_s": round(startup, 1),
                    "requests": http,
                    "in_process": answer,
                    "exit_code_on_sigint": code,
                }
            )
            print(f"{label}: started in {startup:.1f} s", file=sys.stderr, flush=True)

    header = "| artifact | start-up to URL (s) |"
    rule = "|---|---|"
    for seconds in SECONDS:
        header += f" {seconds} s clip: HTTP request (ms) | answer (ms) | model (ms) |"
        rule += "---|---|---|"
    print(header)
    print(rule)
    for row in rows:
        line = f"| {row['artifact']} | {row['startup_s']} |"
        for seconds in SECONDS:
            inside = row["in_process"][seconds]
            line += (
                f" {row['requests'][seconds]['http_median_ms']} | {inside['answer_median_ms']} |"
                f" {inside['model_median_ms']} |"
            )
        print(line)
    load = os.getloadavg()
    print(
        json.dumps(
            {
                "model": str(version),
                "gallery": args.gallery,
                "runs": args.runs,
                "cpus": os.cpu_count(),
                "load_average_1_5_15": [round(x, 1) for x in load],
                "rows": rows,
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
