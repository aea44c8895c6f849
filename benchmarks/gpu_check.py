"""GPU check: wen2019 GAN training throughput per precision, XLA and featurisation mode, the multi-GPU
speed-up and SavedModel inference latency, in one run that fits in 8 minutes on one GPU.

    python benchmarks/gpu_check.py --out gpu_check.json              # GPU machine, from the repo root
    python benchmarks/gpu_check.py --cpu --out /tmp/gpu_check.json   # CPU-sized (also when no GPU)

No figure from a GPU is recorded in this repository yet: this is the harness, ready for the first one.

Data: nothing is needed beforehand. Without `--data DIR` a corpus is synthesised (`s2f_tf.synth.corpus`,
40 identities x 8 utterances x 8 faces) and prepared (`s2f_tf.data.prepare`) in a temporary directory.
Synthetic utterances (4.5-7.5 s) are shorter than wen2019's 800-frame (8 s) minimum, so consecutive
utterances of a speaker are concatenated into one file first (`--concat N`; by default as many as make
1.5x the minimum: 2, giving 11-17 s of speech each) and the recipe's crop lengths are kept. When the
training utterances of `--data DIR` are too short, `audio.min_utterance_frames` and the crop lengths are
lowered to what the data holds and the JSON says so (`data.adjusted`). Pipeline featurisation streams
(each crop featurised from the samples it covers, as any VoxCeleb-sized split does); `--cache-features`
lets this small corpus keep its features in memory instead.

Configurations (`FEATURES-PRECISION[-xla][-Nrep-bBATCH]`; `--configs a,b` runs any list of them), in order:
- one GPU: {device, pipeline} features x {fp32, bf16 (mixed_bfloat16)};
- two or more GPUs: device-bf16 and pipeline-bf16 on 2 replicas (MirroredStrategy) at the recipe's
  global batch of 128 (64 per GPU), device-bf16 at 256 (128 per GPU), device-fp32 at 128; the speed-up
  is samples/s over the one-GPU configuration of the same features and precision;
- the four one-GPU configurations again with XLA. XLA compiles the step once per input shape and the
  recipe draws one of 501 crop lengths per batch, so XLA configurations crop a fixed length, the middle
  of the recipe's range (550 frames; `--xla-crop recipe` keeps the recipe's draw). What each new length
  would cost is the XLA configuration's first step less that of the same configuration without XLA.
fp16 is not run: the step has no loss scaling (only the losses are float32; fp16 activation gradients
underflow without it), and bf16 runs on the same tensor cores at the same rate.
--cpu (or no GPU): tiny preset, 3 steps, `device-fp32` and `pipeline-bf16-2rep-b4` on two logical CPUs.

Each configuration builds models and optimizers with `s2f_tf.train.builder.build_gan` inside the
strategy's scope, feeds `strategy.distribute_datasets_from_function(s2f_tf.train.data.gan_dataset_fn())`
and runs the step as `s2f_tf.train.loop.train_gan` does: `strategy.run` inside one tf.function, the GAN
step jit-compiled when XLA is on, the losses read back after every step (here traced once for all crop
lengths from the dataset's element_spec; train_gan's reduce_retracing traces the same graph twice).

Reported per configuration (JSON `configs[]`; the table shows the main columns):
- start-up: `build_s`, `dataset_s`, `first_batch_s`, `first_step_s` (tracing + compiling + the first
  step), `warmup_s` (`--warmup-steps`, default 5), `teardown_s` (dropping the input pipeline; done in a
  background thread, as it can block for seconds);
- steady state, after warm-up: `steps`, `steps_per_s`, `samples_per_s` (voices/s; as many faces again),
  `step_ms` median/p90, `input_wait_share` (time blocked in `next(iterator)` / wall time),
  `host_cpu_s_per_step` (the whole process: input pipeline threads included),
  `step_compute_ms_new_length` / `..._seen_length` (median step time for a crop length run for the first
  time / again: cuDNN autotuning or XLA compiling per new shape shows here; a long run's steady state is
  the "seen" figure), `peak_memory_bytes` per GPU (`tf.config.experimental.get_memory_info`, reset before
  each configuration; null on CPU) and the mean `losses` (a non-finite loss fails the configuration);
- `status`: ok, failed (with `error`: out of memory, XLA unsupported, ...: the run goes on) or skipped
  (time budget spent).
Inference (`inference`): the encoder and generator of the first one-device fp32 configuration are written
as a work directory and exported by `s2f_tf.serving.export.export` (the SavedModel of `s2f export`, checked
against Keras with TF Serving's session loader; no TFLite), then `serving_default` is timed on 1, 3 and
10 s clips, batch 1, on the default device: first call, median and p90 of 20 calls.

Time: `--budget-s` (default 390) bounds the run from its start, TensorFlow's import included. Steady state
runs `--steps` steps (default 200) or until the configuration's share of the time left runs out, but at
least `--min-steps` (10); a configuration starts only with 40 s of the budget left (a step, an XLA compile
above all, cannot be cut short), the others are recorded as skipped. Worst case: the budget, one XLA
compile past it and 15 s for input pipelines to wind down, well under 8 minutes.
The JSON is rewritten after every configuration (a run that dies keeps what it measured); the table is
printed at the end and the whole JSON is the last line of standard output.

The pieces, beside this script: gpu_check_plan.py (settings and configuration names), gpu_check_data.py
(the corpus), gpu_check_train.py (one configuration, timed), gpu_check_inference.py (export and latency),
gpu_check_table.py (speed-ups and the table); this script runs them in turn and writes the report.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

STARTED = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)

# The gpu_check_* modules beside this script.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_check_data import build_data, fit_config_to_data  # noqa: E402
from gpu_check_inference import LATENCY_SECONDS, export_and_time  # noqa: E402,F401
from gpu_check_plan import CPU_CONFIGS, parse_spec, planned_configs, settings  # noqa: E402,F401
from gpu_check_table import speedups, table  # noqa: E402
from gpu_check_train import config_for, run_config, strategy_for  # noqa: E402

SCHEMA = "s2f_tf.gpu_check/1"
NOT_RUN = [
    {
        "config": "fp16 (mixed_float16)",
        "reason": "no loss scaling in the GAN step (only its losses are float32) and bf16 runs on the "
        "same tensor cores at the same rate",
    }
]


# === The run ===


def environment(cpu_mode: bool) -> dict:
    import keras
    import tensorflow as tf

    from s2f_tf.train.builder import fast_bfloat16

    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        gpus.append(
            {
                "name": details.get("device_name"),
                "compute_capability": details.get("compute_capability"),
            }
        )
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "gpus": gpus,
        "cpu_mode": cpu_mode,
        "logical_cpus": len(tf.config.list_logical_devices("CPU")),
        "native_bf16": fast_bfloat16(),
    }


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")


def _write(path: Path | None, report: dict):
    if path is None:
        return
    report["elapsed_s"] = round(time.perf_counter() - STARTED, 1)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(path)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="JSON report (rewritten after each config)")
    parser.add_argument("--cpu", action="store_true", help="CPU-sized run (also without a GPU)")
    parser.add_argument("--data", help="a prepared dataset (default: synthesise one)")
    parser.add_argument("--preset", help="default wen2019 (GPU) / tiny (--cpu)")
    parser.add_argument("--budget-s", type=float, default=390.0, help="whole run, seconds")
    parser.add_argument("--steps", type=int, help="steady-state steps per config (200 / 3)")
    parser.add_argument("--min-steps", type=int, default=10, help="even past a config's share")
    parser.add_argument("--warmup-steps", type=int, help="after the first step (5 / 1)")
    parser.add_argument("--configs", help="comma-separated config names to run (default all)")
    parser.add_argument("--xla-crop", choices=("fixed", "recipe"), default="fixed")
    parser.add_argument("--identities", type=int, help="synthesised corpus size (40 / 6)")
    parser.add_argument("--concat", type=int, help="utterances per long file (default: auto)")
    parser.add_argument("--cache-features", action="store_true", help="keep pipeline features")
    parser.add_argument("--no-export", action="store_true", help="skip the SavedModel latency")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    global STARTED
    STARTED = time.perf_counter()
    args = parse_args(argv)
    gpus = _visible_gpus(args)
    from s2f_tf.config import preset
    from s2f_tf.data import pipeline

    plan = settings(args, len(gpus))
    report = _new_report(args, plan)
    base = preset(plan["preset"])
    saved_cache = pipeline.FEATURE_CACHE_BYTES
    if not args.cache_features:
        pipeline.FEATURE_CACHE_BYTES = 0  # stream, as VoxCeleb-sized splits do
    with contextlib.ExitStack() as stack:
        stack.callback(setattr, pipeline, "FEATURE_CACHE_BYTES", saved_cache)
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="s2f_gpu_check_")))
        base, data_dir, num_classes = _data(report, args, root, base, plan)
        _run_configs(report, args, plan, base, root, (data_dir, num_classes), len(gpus))
    report["speedups"] = speedups(report["configs"])
    report["host_peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    report["failed"] = [r["name"] for r in report["configs"] if r["status"] != "ok"]
    _write(args.out, report)
    print(table(report))
    print(json.dumps(report))
    return 0


def _visible_gpus(args) -> list:
    """The GPUs the run uses (none in CPU mode: then two logical CPUs); sets `args.cpu_mode`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from s2f_tf.train.distribute import use_cpu_replicas

    gpus = tf.config.list_physical_devices("GPU")
    args.cpu_mode = args.cpu or not gpus
    if not gpus and not args.cpu:
        print("[gpu_check] TensorFlow sees no GPU: CPU-sized run", file=sys.stderr, flush=True)
    if args.cpu_mode:
        if gpus:
            tf.config.set_visible_devices([], "GPU")
        use_cpu_replicas(2)  # before TensorFlow initialises (docs/recipe.md, TensorFlow pitfall 4)
        gpus = []
    return gpus


def _new_report(args, plan: dict) -> dict:
    """The report's fields known before anything runs."""
    return {
        "schema": SCHEMA,
        "mode": "cpu" if args.cpu_mode else "gpu",
        "preset": plan["preset"],
        "environment": environment(args.cpu_mode),
        "budget_s": args.budget_s,
        "settings": {k: plan[k] for k in ("steps", "warmup_steps", "min_steps", "latency_runs")}
        | {
            "xla_crop": args.xla_crop,
            "pipeline_features": "cached" if args.cache_features else "streamed",
        },
        "not_run": NOT_RUN,
        "configs": [],
    }


def _data(report: dict, args, root: Path, base, plan: dict):
    """(the config fitted to the data, the data directory, its number of classes): `--data` or a corpus
    built under `root`; report["data"] says which and what was adjusted."""
    from s2f_tf.data.info import load_info

    if args.data:
        report["data"] = {"dir": args.data, "built": False}
    else:
        report["data"] = build_data(root, base, plan, args.concat)
    data_dir = report["data"]["dir"]
    base, adjusted, usable = fit_config_to_data(base, data_dir)
    report["data"].update(adjusted=adjusted, train_utterances_used=usable)
    num_classes = load_info(data_dir).num_classes
    report["data"]["num_classes"] = num_classes
    report["startup_s"] = round(time.perf_counter() - STARTED, 1)
    _write(args.out, report)
    return base, data_dir, num_classes


def _run_configs(report: dict, args, plan: dict, base, root: Path, data, gpus: int) -> None:
    """Every configuration in turn within the budget (the first one-device fp32 one also exported and
    timed), then the input pipelines' teardown waited for."""
    deadline = STARTED + args.budget_s
    if args.configs:
        specs = [parse_spec(name, base.train.batch_size) for name in args.configs.split(",")]
    else:
        specs = planned_configs(plan, base)
    strategies, pending = {}, []  # pending: iterator teardown threads
    export_reserve = 0.0 if args.no_export else (20.0 if args.cpu_mode else 45.0)
    exported = args.no_export
    for index, spec in enumerate(specs):
        now = time.perf_counter()
        reserve = 0.0 if exported else export_reserve
        limits = {
            "deadline": deadline - reserve,
            "share_end": now + max(0.0, (deadline - reserve - now) / (len(specs) - index)),
            "steps": plan["steps"],
            "min_steps": plan["min_steps"],
            "warmup_steps": plan["warmup_steps"],
            "pending": pending,
        }
        record = dict(spec)
        report["configs"].append(record)
        if now >= deadline - reserve - plan["start_margin_s"]:
            record.update(status="skipped", error="time budget spent")
            continue
        devices = (gpus, strategies)
        exported = _run_one(report, record, args, plan, base, root, data, devices, limits, exported)
        gc.collect()
    t0 = time.perf_counter()
    for thread in pending:
        thread.join(timeout=max(0.0, max(deadline, t0) + 15.0 - time.perf_counter()))
    report["teardown_wait_s"] = round(time.perf_counter() - t0, 1)
    report["teardown_pending"] = sum(thread.is_alive() for thread in pending)
    if args.no_export:
        report["inference"] = {"skipped": "--no-export"}
    elif not exported:
        report["inference"] = {"error": "no one-device fp32 configuration trained"}


def _run_one(report, record, args, plan, base, root, data, devices, limits, exported) -> bool:
    """Train and time one configuration into `record` (a failure is recorded, not raised); export and
    time the first one-device fp32 one that trains. Returns whether the export has been done."""
    data_dir, num_classes = data
    gpus, strategies = devices
    spec, gan, now = dict(record), None, time.perf_counter()  # the configuration, as planned
    print(f"[gpu_check] {spec['name']} ...", file=sys.stderr, flush=True)
    try:
        strategy = strategy_for(spec["replicas"], gpus, strategies)
        config = config_for(spec, base, args.xla_crop)
        gan = run_config(record, config, data_dir, num_classes, strategy, limits)
    except Exception as error:  # noqa: BLE001 - recorded, and the run goes on
        record.update(status="failed", error=_first_line(error))
    record["total_s"] = round(time.perf_counter() - now, 1)
    speedups(report["configs"])
    _write(args.out, report)
    wants_export = spec["replicas"] == 1 and spec["precision"] == "fp32" and not spec["xla"]
    if not exported and gan is not None and record["status"] == "ok" and wants_export:
        exported = True
        try:
            report["inference"] = export_and_time(gan, config, root, plan)
        except Exception as error:  # noqa: BLE001
            report["inference"] = {"error": _first_line(error)}
        _write(args.out, report)
    del gan
    return exported


if __name__ == "__main__":
    code = main()
    if any(t.name == "iterator-teardown" and t.is_alive() for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # everything is written; do not wait for an input pipeline to wind down
    sys.exit(code)
