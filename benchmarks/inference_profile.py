"""Per-op profiles of the exported waveform -> face model: LiteRT's op profiler for the TFLite files, the
TensorFlow profiler (step stats of a traced session run) for the SavedModel.

    python benchmarks/inference_profile.py [--preset wen2019 small] [--threads 2] [--seconds 10] [--runs 20]

For each preset, randomly initialised models (per-op time does not depend on the weights) are exported
with the functions `s2f export` uses (`convert_tflite` for the fp32 and int8 files, `write_saved_model`),
then one clip of --seconds is run --runs times after 3 warm-up runs:

- TFLite: LiteRT's own op profiler (`litert_profiler.py`). The Python `Interpreter` does not expose it,
  so the LiteRT C API of the installed `ai_edge_litert` wheel (libLiteRt.so) is called through ctypes: a
  `CompiledModel` on the CPU accelerator (XNNPACK, `num_threads` = --threads) with the runtime option
  `enable_profiling`, and `LiteRtGetProfileSummary`, the same summariser as the `benchmark_model` tool's
  --enable_op_profiling.
  "Delegate/..." rows are XNNPACK operators (inside the delegate), the others TFLite builtin kernels.
- SavedModel: loaded with the TF1 session loader (what TF Serving runs), `serving_default` run with
  `RunOptions(trace_level=FULL_TRACE)`; the step stats' per-node times are summed by op type.

Time is also given by stage (front end incl. test-time tiling, voice encoder, generator + output):
TFLite from the run-order timeline (the tiling's TILE and L2_NORMALIZATION are builtins with start
times), SavedModel nodes by name scope. Prints markdown tables, the load average, and a
JSON summary last.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from litert_profiler import STAGES, LiteRtProfiler, run_order_rows, tflite_stage_times  # noqa: E402

# === The TensorFlow profiler for the SavedModel ===


def savedmodel_profile(path, waveform, runs: int, threads: int) -> tuple[list[dict], list[float]]:
    """Per-node times (ms per inference, summed over devices) of serving_default in the session loader."""
    import tensorflow as tf

    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads
    )
    tf.get_logger().setLevel("ERROR")
    with (
        tf.Graph().as_default() as graph,
        tf.compat.v1.Session(graph=graph, config=config) as session,
    ):
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(path))
        signature = meta.signature_def["serving_default"]
        feed = {signature.inputs["waveform"].name: waveform}
        fetch = [t.name for t in signature.outputs.values()]
        for _ in range(3):
            session.run(fetch, feed)
        times, per_node = [], collections.defaultdict(float)
        op_of = {}
        for _ in range(runs):
            options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
            metadata = tf.compat.v1.RunMetadata()
            start = time.perf_counter()
            session.run(fetch, feed, options=options, run_metadata=metadata)
            times.append(time.perf_counter() - start)
            for device in metadata.step_stats.dev_stats:
                for node in device.node_stats:
                    name = node.node_name.split(":")[0]
                    label = re.match(r"[^=]+= (\w+)", node.timeline_label or "")
                    op_of[name] = label[1] if label else op_of.get(name, name)
                    per_node[name] += node.all_end_rel_micros / 1000.0 / runs
    rows = [{"op": op_of[n], "ms": ms, "node": n} for n, ms in per_node.items() if n != "_SOURCE"]
    return sorted(rows, key=lambda r: -r["ms"]), times


def savedmodel_stage(node: str) -> str:
    if re.search(r"log_mel|test_time_tiling|frame|VerifyFinite|CheckNumerics", node):
        return STAGES[0]
    if re.search(r"voice_encoder|matmul_encoder|l2_normalize", node):
        return STAGES[1]
    return STAGES[2]


# === Tables ===


def load() -> str:
    return "load average " + " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"


def table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report(title: str, rows: list[dict], stages, times: list[float], top: int) -> dict:
    """Print the tables; `stages` is a stage per row, or {stage: ms} (TFLite: `tflite_stage_times`)."""
    import numpy as np

    total = sum(r["ms"] for r in rows)
    by_type = collections.Counter()
    for r in rows:
        by_type[r["op"]] += r["ms"]
    by_stage = collections.Counter()
    if isinstance(stages, dict):
        by_stage.update(stages)
    else:
        for r, stage in zip(rows, stages, strict=True):
            by_stage[stage] += r["ms"]
    wall = 1000 * float(np.median(times))
    print(f"\n### {title}\n")
    print(
        f"median wall time {wall:.2f} ms per inference while profiled; ops sum to {total:.2f} ms; {load()}\n"
    )
    print(table(["stage", "ms", "share"], [
        (s, f"{by_stage[s]:.2f}", f"{100 * by_stage[s] / total:.1f} %") for s in STAGES
    ]))  # fmt: skip
    print()
    print(table(["op type", "ms per inference", "share"], [
        (op, f"{ms:.2f}", f"{100 * ms / total:.1f} %") for op, ms in by_type.most_common(top)
    ]))  # fmt: skip
    print()
    heaviest = sorted(rows, key=lambda r: -r["ms"])[:top]
    print(table(["op", "node", "calls per inference", "ms per inference", "share"], [
        (r["op"], r["node"][-60:], f"{r.get('calls', 1):g}", f"{r['ms']:.2f}",
         f"{100 * r['ms'] / total:.1f} %")
        for r in heaviest
    ]))  # fmt: skip
    return {
        "median_wall_ms": round(wall, 2),
        "ops_total_ms": round(total, 2),
        "by_stage_ms": {s: round(by_stage[s], 2) for s in STAGES},
        "by_op_type_ms": {op: round(ms, 3) for op, ms in by_type.most_common()},
    }


# === Main ===


def export_random(preset_name: str, out: Path, graph: str = "after"):
    """Random models of `preset_name`, written as the export writes them: fp32 and int8 TFLite files and
    the SavedModel (`graph="before"`: as exports were before the serving graph, see
    benchmarks/inference_before_after.py)."""
    import keras

    from s2f_tf.config import preset
    from s2f_tf.models import build_generator, build_voice_encoder
    from s2f_tf.serving.archive import build_inference_model
    from s2f_tf.serving.saved_model import write_saved_model
    from s2f_tf.serving.tflite import convert_tflite

    config = preset(preset_name)
    keras.utils.set_random_seed(0)
    model = build_inference_model(config, build_voice_encoder(config), build_generator(config))
    out.mkdir(parents=True)
    if graph == "before":
        from inference_before_after import write_before

        write_before(model, out)
        return config
    for quantization, content in convert_tflite(model, ("fp32", "int8")).items():
        (out / f"{quantization}.tflite").write_bytes(content)
    write_saved_model(model, out / "saved_model")
    return config


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", nargs="+", default=["wen2019", "small"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--top", type=int, default=15, help="rows of the op-type and heaviest-op tables"
    )
    parser.add_argument(
        "--artifacts", nargs="+", default=["fp32", "int8", "saved_model"],
        help="which to profile (fp32, int8, saved_model)",
    )  # fmt: skip
    parser.add_argument(
        "--graph", choices=["after", "before"], default="after",
        help="profile what `s2f export` writes now, or the graph exported before the serving graph",
    )  # fmt: skip
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from s2f_tf.serving.checks import check_clips

    print(
        f"# Per-op profiles ({args.graph}): {args.seconds:g} s clip, {args.threads} threads, "
        f"{args.runs} runs"
    )
    print(
        f"CPU: {cpu_name()}, {os.cpu_count()} logical CPUs; TensorFlow {tf.__version__}; {load()}"
    )
    summary = {
        "threads": args.threads,
        "seconds": args.seconds,
        "runs": args.runs,
        "cpu": cpu_name(),
    }
    with tempfile.TemporaryDirectory(prefix="s2f_profile_") as tmp:
        for name in args.preset:
            out = Path(tmp) / name
            config = export_random(name, out, args.graph)
            rate = config.audio.sample_rate
            waveform = check_clips(rate, (int(args.seconds * rate),), seed=1)[0][None]
            for artifact in args.artifacts:
                title = f"{name}: {artifact if artifact == 'saved_model' else 'TFLite ' + artifact}"
                if artifact == "saved_model":
                    rows, times = savedmodel_profile(
                        out / "saved_model", waveform, args.runs, args.threads
                    )
                    stages = [savedmodel_stage(r["node"]) for r in rows]
                else:
                    profiler = LiteRtProfiler(
                        out / f"{artifact}.tflite", args.threads, waveform.shape[1]
                    )
                    profiler.set_input(waveform)
                    for _ in range(3):
                        profiler.run()
                    text, times = profiler.profile(args.runs)
                    rows = run_order_rows(text, args.runs)
                    stages = tflite_stage_times(rows)
                summary[title] = report(title, rows, stages, times, args.top)
    summary["load_average"] = os.getloadavg()
    print(json.dumps(summary))
    return 0


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
