"""Before/after latency of the exported waveform -> face model, side by side in alternating rounds.

    python benchmarks/inference_before_after.py [--preset wen2019] [--threads 2] [--rounds 20] [--seconds 10 3]

"before" is the Keras `VoiceToFace` graph exported as the exports did before the serving graph (generator
with transposed convolutions, FFT front end everywhere): `export_archive(model)` for the SavedModel,
`export_archive(model, batch=1, tflite=True)` converted for TFLite, the mel filterbank restored to float32
in int8. "after" is what `s2f export` writes now (`write_saved_model`, `convert_tflite`: the serving graph
of `s2f_tf.serving.graph`). Random weights (latency does not depend on them). Every arm runs once per round,
in turn, so that the load of a shared machine falls on all of them alike; the table gives the median and
the minimum over --rounds rounds (after 3 warm-up calls), after/before ratios of the medians, and the
median process CPU time per call (all threads; less sensitive to other jobs than wall time). TFLite:
`Interpreter(num_threads=--threads)` (XNNPACK), `set_tensor` + `invoke` at an allocated length;
SavedModel: `tf.saved_model.load(...).signatures["serving_default"]` with --threads intra- and inter-op
threads. Prints markdown, the load average before and after, and a JSON summary last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)

QUANTIZATIONS = ("fp32", "int8")


def write_before(model, out: Path):
    """The artifacts as exported before the serving graph (see the module docstring)."""
    from s2f_tf.frontend import mel_filterbank
    from s2f_tf.serving.archive import export_archive
    from s2f_tf.serving.tflite import convert_saved_model, restore_float_weights

    export_archive(model).write_out(str(out / "saved_model"), verbose=False)
    export_archive(model, batch=1, with_wav=False, tflite=True).write_out(
        str(out / "tflite_source"), verbose=False
    )
    for quantization in QUANTIZATIONS:
        content = convert_saved_model(out / "tflite_source", quantization)
        if quantization == "int8":
            content, _ = restore_float_weights(content, mel_filterbank(model.audio).T)
        (out / f"{quantization}.tflite").write_bytes(content)


def write_after(model, out: Path):
    from s2f_tf.serving.saved_model import write_saved_model
    from s2f_tf.serving.tflite import convert_tflite

    write_saved_model(model, out / "saved_model")
    for quantization, content in convert_tflite(model, QUANTIZATIONS).items():
        (out / f"{quantization}.tflite").write_bytes(content)


def arms_for(directory: Path, clip, threads: int) -> dict:
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    arms = {}
    signature = tf.saved_model.load(str(directory / "saved_model")).signatures["serving_default"]
    tensor = tf.constant(clip)
    arms["SavedModel"] = lambda: signature(waveform=tensor)["face"].numpy()
    for quantization in QUANTIZATIONS:
        interpreter = Interpreter(
            model_path=str(directory / f"{quantization}.tflite"), num_threads=threads
        )
        (detail,) = interpreter.get_input_details()
        interpreter.resize_tensor_input(detail["index"], list(clip.shape))
        interpreter.allocate_tensors()
        output = interpreter.get_output_details()[0]["index"]

        def run(interpreter=interpreter, i=detail["index"], o=output):
            interpreter.set_tensor(i, clip)
            interpreter.invoke()
            return interpreter.get_tensor(o)

        arms[f"TFLite {quantization}"] = run
    return arms


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="wen2019")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 3.0])
    return parser.parse_args(argv)


def random_model(args):
    """(config, the `VoiceToFace` model of --preset with random weights), TensorFlow set to --threads
    intra- and inter-op threads."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from s2f_tf.config import preset
    from s2f_tf.models import build_generator, build_voice_encoder
    from s2f_tf.serving.archive import build_inference_model

    config = preset(args.preset)
    keras.utils.set_random_seed(0)
    return config, build_inference_model(
        config, build_voice_encoder(config), build_generator(config)
    )


def write_artifacts(model, tmp: Path) -> dict:
    """Write the "before" and "after" artifacts into `tmp`/before and `tmp`/after: the sizes of their
    TFLite files, {(name, quantization): bytes}."""
    for name, write in (("before", write_before), ("after", write_after)):
        (tmp / name).mkdir()
        write(model, tmp / name)
    return {
        (name, q): (tmp / name / f"{q}.tflite").stat().st_size
        for name in ("before", "after")
        for q in QUANTIZATIONS
    }


def time_rounds(arms: dict, rounds: int) -> tuple[dict, dict]:
    """3 warm-up calls of every arm, then `rounds` rounds calling each arm once in turn: ({arm: wall
    seconds per call}, {arm: process CPU seconds per call})."""
    for run in arms.values():
        for _ in range(3):
            run()
    times = {key: [] for key in arms}
    cpu = {key: [] for key in arms}
    for _ in range(rounds):
        for key, run in arms.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            times[key].append(time.perf_counter() - start)
            cpu[key].append(time.process_time() - start_cpu)
    return times, cpu


def artifact_row(artifact: str, seconds: float, times: dict, cpu: dict) -> dict:
    """One artifact's row: median and minimum ms before and after, CPU ms per call, after / before."""
    import numpy as np

    before, after = (1000 * np.asarray(times[(artifact, n)]) for n in ("before", "after"))
    row = {
        "artifact": artifact,
        "seconds": seconds,
        "before_median_ms": round(float(statistics.median(before)), 2),
        "before_min_ms": round(float(before.min()), 2),
        "after_median_ms": round(float(statistics.median(after)), 2),
        "after_min_ms": round(float(after.min()), 2),
    }
    for name in ("before", "after"):
        cpu_ms = 1000 * statistics.median(cpu[(artifact, name)])
        row[f"{name}_cpu_ms"] = round(cpu_ms, 2)
    row["ratio"] = round(row["after_median_ms"] / row["before_median_ms"], 3)
    return row


def clip_rows(tmp: Path, config, seconds: float, args) -> list[dict]:
    """Time every artifact under `tmp`, before and after, on a `seconds` clip: one row per artifact."""
    from s2f_tf.serving.checks import check_clips

    rate = config.audio.sample_rate
    clip = check_clips(rate, (int(seconds * rate),), seed=1)[0][None]
    arms = {}
    for name in ("before", "after"):
        for artifact, run in arms_for(tmp / name, clip, args.threads).items():
            arms[(artifact, name)] = run
    times, cpu = time_rounds(arms, args.rounds)
    return [artifact_row(a, seconds, times, cpu) for a in dict.fromkeys(a for a, _ in arms)]


def print_tables(args, rows: list[dict], sizes: dict, load_before, load_after) -> None:
    """The run's line (load averages included), the latency table and the TFLite sizes table."""
    print(
        f"{args.preset}, {args.threads} threads, {args.rounds} alternating rounds; load average "
        f"{' / '.join(f'{x:.2f}' for x in load_before)} before, "
        f"{' / '.join(f'{x:.2f}' for x in load_after)} after (1 / 5 / 15 min)\n"
    )
    header = (
        "| artifact | clip | before: median (min) ms | after: median (min) ms | after / before "
        "| CPU ms per call, before -> after |"
    )
    print(header + "\n|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['artifact']} | {r['seconds']:g} s | {r['before_median_ms']:.1f} "
            f"({r['before_min_ms']:.1f}) | {r['after_median_ms']:.1f} ({r['after_min_ms']:.1f}) "
            f"| {r['ratio']:.2f} | {r['before_cpu_ms']:.1f} -> {r['after_cpu_ms']:.1f} |"
        )
    print("\n| file | before (bytes) | after (bytes) |\n|---|---|---|")
    for q in QUANTIZATIONS:
        print(f"| TFLite {q} | {sizes[('before', q)]:,} | {sizes[('after', q)]:,} |")


def main(argv=None):
    args = parse_args(argv)
    config, model = random_model(args)
    load_before = os.getloadavg()
    rows, summary = [], {"preset": args.preset, "threads": args.threads, "rounds": args.rounds}
    with tempfile.TemporaryDirectory(prefix="s2f_before_after_") as tmp:
        sizes = write_artifacts(model, Path(tmp))
        for seconds in args.seconds:
            rows += clip_rows(Path(tmp), config, seconds, args)
    load_after = os.getloadavg()
    print_tables(args, rows, sizes, load_before, load_after)
    summary.update(
        rows=rows,
        sizes={f"{n} {q}": s for (n, q), s in sizes.items()},
        load_average={"start": load_before, "end": load_after},
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
