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
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

STARTED = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import s2f_tf  # noqa: E402,F401 - before TensorFlow starts: its oneDNN kernels on (s2f_tf.onednn)

SCHEMA = "s2f_tf.gpu_check/1"
LATENCY_SECONDS = (1, 3, 10)
# CPU mode: both featurisations, one and two replicas, fp32 and bf16, the SavedModel export after the
# first; in two configurations, since tracing a GAN step costs ~5 CPU-s (XLA on the CPU, ~15 more: run it
# with --configs, as tests/test_gpu_check.py does in its slow test).
CPU_CONFIGS = [("device", "fp32", False, 1, 1), ("pipeline", "bf16", False, 2, 1)]
NOT_RUN = [
    {
        "config": "fp16 (mixed_float16)",
        "reason": "no loss scaling in the GAN step (only its losses are float32) and bf16 runs on the "
        "same tensor cores at the same rate",
    }
]


# === Settings per mode ===


def settings(args, gpus: int) -> dict:
    """What a run does: GPU-sized (wen2019) or CPU-sized (tiny, a handful of steps)."""
    if args.cpu_mode:
        return {
            "preset": args.preset or "tiny",
            "steps": args.steps or 3,
            "warmup_steps": args.warmup_steps if args.warmup_steps is not None else 1,
            "min_steps": min(args.min_steps, 2),
            "identities": args.identities or 6,
            "utterances": 3,
            "faces": 2,
            "workers": 1,
            "latency_runs": 3,
            "start_margin_s": 0.0,
            "check_samples": (8000,),  # one clip for export's SavedModel check (each costs seconds)
            # (features, precision, xla, replicas, global batch x preset's)
            "configs": CPU_CONFIGS,
        }
    single = [(f, p, False, 1, 1) for p in ("fp32", "bf16") for f in ("device", "pipeline")]
    multi = [("device", "bf16", False, 2, 1), ("pipeline", "bf16", False, 2, 1)]
    multi += [("device", "bf16", False, 2, 2), ("device", "fp32", False, 2, 1)]
    return {
        "preset": args.preset or "wen2019",
        "steps": args.steps or 200,
        "warmup_steps": args.warmup_steps if args.warmup_steps is not None else 5,
        "min_steps": args.min_steps,
        "identities": args.identities or 40,
        "utterances": 8,  # concatenated in pairs: ~13 s of speech each
        "faces": 8,
        "workers": os.cpu_count() or 1,
        "latency_runs": 20,
        "start_margin_s": 40.0,  # no configuration starts with less of the budget left
        "check_samples": None,  # export's full check
        "configs": single + (multi if gpus > 1 else []) + [c[:2] + (True, 1, 1) for c in single],
    }


# === Data ===


def _concatenate_utterances(corpus_dir: Path, out_dir: Path, group: int) -> int:
    """Write every `group` consecutive utterances of a speaker as one file; returns files written."""
    import numpy as np
    import soundfile

    written = 0
    for speaker in sorted(p for p in (corpus_dir / "wav").iterdir() if p.is_dir()):
        files = sorted(speaker.rglob("*.wav"))
        for k in range(0, len(files) - group + 1, group):
            pieces = [soundfile.read(f, dtype="int16") for f in files[k : k + group]]
            rate = pieces[0][1]
            target = out_dir / speaker.name / "long" / f"{k // group + 1:05d}.wav"
            target.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(target, np.concatenate([p[0] for p in pieces]), rate, subtype="PCM_16")
            written += 1
    return written


def build_data(root: Path, config, plan: dict, concat: int | None) -> dict:
    """Synthesise a corpus and prepare it under `root`; long utterances made by concatenation."""
    from s2f_tf.data import prepare as prep
    from s2f_tf.synth import corpus

    start = time.perf_counter()
    audio = config.audio
    synth = corpus.generate(
        root / "corpus",
        identities=plan["identities"],
        utterances=plan["utterances"],
        faces=plan["faces"],
        seed=0,
        workers=plan["workers"],
    )
    needed_s = audio.min_utterance_frames * audio.frame_step / audio.sample_rate
    mean_s = synth["audio_seconds"] / max(synth["utterances"], 1)
    group = concat or max(1, math.ceil(1.5 * needed_s / mean_s))
    group = min(group, plan["utterances"])
    files = _concatenate_utterances(root / "corpus", root / "long_wav", group)
    summary = prep.prepare(
        prep.PrepareOptions(
            meta=str(root / "corpus" / "vox1_meta.csv"),
            voices=str(root / "long_wav"),
            faces=str(root / "corpus" / "faces"),
            out=str(root / "data"),
            min_frames=min(audio.min_utterance_frames, 300),
            workers=plan["workers"],
        )
    )
    return {
        "dir": str(root / "data"),
        "built": True,
        "synth": {k: synth[k] for k in ("identities", "utterances", "faces", "audio_seconds")},
        "utterances_concatenated": group,
        "long_files": files,
        "prepared": {
            k: summary[k] for k in ("identities", "utterances", "faces", "speech_seconds")
        },
        "build_s": round(time.perf_counter() - start, 1),
    }


def fit_config_to_data(config, data_dir: str):
    """(config, adjustments, usable training utterances): when fewer than 8 training utterances (or not
    all of fewer) reach `audio.min_utterance_frames`, it and the crop lengths are lowered so that they do."""
    from s2f_tf.data.info import load_info

    audio = config.audio
    frames = sorted(load_info(data_dir).split("train")["voice_frames"])
    wanted = min(8, len(frames))
    usable = sum(f >= audio.min_utterance_frames for f in frames)
    if usable >= wanted:
        return config, {}, usable
    shortest = frames[-wanted]  # < min_utterance_frames, since fewer than `wanted` reach it
    longest_crop = min(audio.train_max_frames, shortest)
    changes = {
        "min_utterance_frames": shortest,
        "train_max_frames": longest_crop,
        "train_min_frames": min(audio.train_min_frames, longest_crop),
    }
    adjusted = {
        key: {"preset": getattr(audio, key), "used": value}
        for key, value in changes.items()
        if getattr(audio, key) != value
    }
    return config.replace(audio=changes), adjusted, wanted


# === One configuration ===


def make_distributed_step(strategy, gan, global_batch_size: int, jit_compile: bool, element_spec):
    """The step as `train_gan` runs it (s2f_tf/train/loop.py: `strategy.run` inside one tf.function, the
    GAN step jit-compiled with XLA), traced once for every crop length from the distributed dataset's
    `element_spec` (train_gan's `reduce_retracing` traces the same graph on its second step instead).
    `traces` counts tracings."""
    import tensorflow as tf

    replica_step = tf.function(gan, jit_compile=True) if jit_compile else gan
    traces = []

    @tf.function(input_signature=[element_spec])
    def distributed_step(batch):
        traces.append(1)  # runs only while tracing
        metrics = strategy.run(replica_step, args=(batch, global_batch_size))
        return strategy.experimental_local_results(metrics)[0]

    return distributed_step, traces


def _devices(strategy) -> list[str]:
    return [d.split("device:")[-1] for d in strategy.extended.worker_devices]


def _memory_names(devices: list[str]) -> list[str]:
    return [d for d in devices if d.upper().startswith("GPU")]


def _reset_memory(names):
    import tensorflow as tf

    for name in names:
        tf.config.experimental.reset_memory_stats(name)


def _memory(names, key):
    import tensorflow as tf

    return {name: tf.config.experimental.get_memory_info(name)[key] for name in names} or None


def _drop_in_background(holder: list, record: dict) -> threading.Thread:
    """Drop the distributed iterator (`holder`'s only item) in a thread, recording how long it took.

    After GAN steps, deleting the iterator blocks its thread, idle, for seconds (on 2 logical CPUs: ~3 s
    on one device, 11-16 s mirrored; ~1 s after a trivial step): the next configuration goes on meanwhile.
    """

    def drop():
        t0 = time.perf_counter()
        holder.clear()
        record["teardown_s"] = round(time.perf_counter() - t0, 2)

    thread = threading.Thread(target=drop, name="iterator-teardown", daemon=True)
    thread.start()
    return thread


def _median_ms(seconds: list[float]):
    return round(1000 * statistics.median(seconds), 2) if seconds else None


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")


def run_config(record: dict, config, data_dir: str, num_classes: int, strategy, limits: dict):
    """Build, warm up and time one configuration, filling `record` as it goes (what was measured before
    a failure stays); returns the trained GAN step."""
    import numpy as np

    from s2f_tf.train.builder import build_gan
    from s2f_tf.train.data import gan_dataset_fn

    global_batch = config.train.batch_size
    devices = _devices(strategy)
    memory = _memory_names(devices)
    record.update(
        devices=devices,
        global_batch=global_batch,
        per_replica_batch=global_batch // strategy.num_replicas_in_sync,
        crop_frames=[config.audio.train_min_frames, config.audio.train_max_frames],
    )
    gc.collect()
    record["memory_before_bytes"] = _memory(memory, "current")
    _reset_memory(memory)
    deadline = limits["deadline"]
    t0 = time.perf_counter()
    with strategy.scope():
        gan = build_gan(config, num_classes)
    record["build_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    dataset_fn = gan_dataset_fn(data_dir, config)
    dataset = strategy.distribute_datasets_from_function(lambda c: dataset_fn(c, start_step=0))
    batches = [iter(dataset)]  # a list, so that the iterator can be dropped (and timed) below
    record["dataset_s"] = round(time.perf_counter() - t0, 2)
    step, traces = make_distributed_step(
        strategy, gan, global_batch, config.train.jit_compile, dataset.element_spec
    )

    seen = set()  # crop lengths (their tensor shape) run so far

    def one_step():
        """(input wait s, step s, losses, whether the crop length is new); reads the losses back every
        step, as train_gan does."""
        w0 = time.perf_counter()
        batch = next(batches[0])
        w1 = time.perf_counter()
        values = {k: float(v) for k, v in step(batch).items()}
        w2 = time.perf_counter()
        bad = sorted(k for k, v in values.items() if not math.isfinite(v))
        if bad:
            raise FloatingPointError(f"{', '.join(bad)} non-finite")
        voice = batch["voice"] if "voice" in batch else batch["voice_wave"]
        length = int(strategy.experimental_local_results(voice)[0].shape[1])
        new = length not in seen
        seen.add(length)
        return w1 - w0, w2 - w1, values, new

    wait, compute, _, _ = one_step()
    record["first_batch_s"] = round(wait, 2)
    record["first_step_s"] = round(compute, 2)
    t0 = time.perf_counter()
    for _ in range(limits["warmup_steps"]):
        one_step()
    record["warmup_steps"] = limits["warmup_steps"]
    record["warmup_s"] = round(time.perf_counter() - t0, 2)

    waits, walls, losses, by_length = [], [], {}, {True: [], False: []}
    cpu0 = _cpu_seconds()
    steady0 = time.perf_counter()
    stop = min(deadline, steady0 + max(0.0, limits["share_end"] - steady0))
    while len(walls) < limits["steps"]:
        if len(walls) >= limits["min_steps"] and time.perf_counter() >= stop:
            break
        if time.perf_counter() >= deadline:
            break
        wait, compute, values, new = one_step()
        waits.append(wait)
        walls.append(wait + compute)
        by_length[new].append(compute)
        for key, value in values.items():
            losses.setdefault(key, []).append(value)
    steady = time.perf_counter() - steady0
    cpu = _cpu_seconds() - cpu0
    limits["pending"].append(_drop_in_background(batches, record))
    n = len(walls)
    record.update(
        steps=n,
        steady_s=round(steady, 2),
        traces=len(traces),
        steps_per_s=round(n / steady, 3) if n else None,
        samples_per_s=round(n * global_batch / steady, 1) if n else None,
        step_ms={
            "median": round(1000 * statistics.median(walls), 2),
            "p90": round(1000 * sorted(walls)[int(0.9 * (n - 1))], 2),
        }
        if n
        else None,
        # A crop length not run before may cost more (cuDNN autotuning, XLA compiling): the steady
        # state of a long run is the "seen" figure once every length has come up.
        crop_lengths_seen=len(seen),
        step_compute_ms_new_length=_median_ms(by_length[True]),
        step_compute_ms_seen_length=_median_ms(by_length[False]),
        steps_with_seen_length=len(by_length[False]),
        input_wait_share=round(sum(waits) / sum(walls), 4) if n else None,
        host_cpu_s_per_step=round(cpu / n, 3) if n else None,
        peak_memory_bytes=_memory(memory, "peak"),
        losses={k: round(float(np.mean(v)), 4) for k, v in losses.items()},
        status="ok" if n else "no steady-state steps (time budget)",
    )
    return gan


# === Export and latency ===


def export_and_time(gan, config, root: Path, plan: dict) -> dict:
    """Write the trained encoder + generator as a work directory, export it, time serving_default."""
    import numpy as np
    import tensorflow as tf

    from s2f_tf import workdir as layout
    from s2f_tf.serving.checks import check_clips
    from s2f_tf.serving.export import export

    start = time.perf_counter()
    workdir = root / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    # The export loads float32 models from config.json, whatever precision trained them.
    plain = config.replace(train={"mixed_precision": False, "jit_compile": False})
    (workdir / layout.CONFIG).write_text(plain.to_json())
    gan.models.voice_encoder.save_weights(str(workdir / layout.ENCODER_WEIGHTS))
    tf.train.CheckpointManager(
        tf.train.Checkpoint(generator=gan.models.generator),
        str(workdir / layout.CHECKPOINTS),
        max_to_keep=1,
    ).save()
    checks = {"check_samples": plan["check_samples"]} if plan["check_samples"] else {}
    report = export(
        workdir, root / "savedmodels" / "gpu_check", quantizations=(), progress=False, **checks
    )
    result = {
        "saved_model_bytes": report["saved_model"]["size_bytes"],
        "parity_max_abs_diff": report["saved_model"]["max_abs_diff_face_float"],
        "export_s": round(time.perf_counter() - start, 1),
    }
    signature = tf.saved_model.load(report["saved_model"]["path"]).signatures["serving_default"]
    rate = config.audio.sample_rate
    runs = plan["latency_runs"]
    rows = []
    for seconds in LATENCY_SECONDS:
        clip = tf.constant(check_clips(rate, (seconds * rate,), seed=seconds)[0][None])
        t0 = time.perf_counter()
        out = signature(waveform=clip)
        face = out["face"].numpy()
        first = time.perf_counter() - t0
        samples = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            signature(waveform=clip)["face"].numpy()
            samples.append(time.perf_counter() - t0)
        samples = sorted(samples[1:])  # the second call may still autotune
        rows.append(
            {
                "seconds": seconds,
                "batch": 1,
                "device": out["face_float"].device.split("device:")[-1],
                "first_call_ms": round(1000 * first, 2),
                "median_ms": round(1000 * statistics.median(samples), 2),
                "p90_ms": round(1000 * samples[int(0.9 * (len(samples) - 1))], 2),
                "runs": runs,
                "face_shape": list(np.shape(face)),
            }
        )
    result["latency"] = rows
    result["total_s"] = round(time.perf_counter() - start, 1)
    return result


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


def _spec_name(features, precision, xla, replicas=1, batch=None):
    name = f"{features}-{precision}" + ("-xla" if xla else "")
    return name + (f"-{replicas}rep-b{batch}" if replicas > 1 else "")


def planned_configs(plan: dict, base) -> list[dict]:
    return [
        {
            "name": _spec_name(f, p, x, replicas, base.train.batch_size * factor),
            "features": f,
            "precision": p,
            "xla": x,
            "replicas": replicas,
            "global_batch": base.train.batch_size * factor,
        }
        for f, p, x, replicas, factor in plan["configs"]
    ]


def parse_spec(name: str, batch_size: int) -> dict:
    """A configuration from its name, `FEATURES-PRECISION[-xla][-Nrep-bBATCH]`."""
    match = re.fullmatch(r"(device|pipeline)-(fp32|bf16)(-xla)?(?:-(\d+)rep-b(\d+))?", name)
    if not match:
        raise SystemExit(f"--configs: {name!r} is not FEATURES-PRECISION[-xla][-Nrep-bBATCH]")
    features, precision, xla, replicas, batch = match.groups()
    return {
        "name": name,
        "features": features,
        "precision": precision,
        "xla": bool(xla),
        "replicas": int(replicas or 1),
        "global_batch": int(batch or batch_size),
    }


def strategy_for(replicas: int, gpus: int, cache: dict):
    """One device, or MirroredStrategy over the first `replicas` GPUs (or both logical CPUs)."""
    import tensorflow as tf

    from s2f_tf.train.distribute import make_strategy

    if replicas not in cache:
        available = gpus or len(tf.config.list_logical_devices("CPU"))
        if replicas > available:
            raise RuntimeError(f"{replicas} replicas need {replicas} devices; {available} here")
        if replicas == 1:
            cache[replicas] = make_strategy("one_device")
        elif replicas == available:
            cache[replicas] = make_strategy("mirrored")
        else:
            cache[replicas] = tf.distribute.MirroredStrategy([f"/gpu:{i}" for i in range(replicas)])
    return cache[replicas]


def config_for(spec: dict, base, xla_crop: str):
    audio = base.audio
    changes = {}
    if spec["xla"] and xla_crop == "fixed":
        middle = (audio.train_min_frames + audio.train_max_frames) // 2
        changes = {"audio": {"train_min_frames": middle, "train_max_frames": middle}}
    return base.replace(
        train={
            "features_on": spec["features"],
            "mixed_precision": spec["precision"] == "bf16",
            "jit_compile": spec["xla"],
            "batch_size": spec["global_batch"],
        },
        **changes,
    )


def speedups(records: list[dict]) -> list[dict]:
    single = {
        (r["features"], r["precision"]): r
        for r in records
        if r["replicas"] == 1 and not r["xla"] and r.get("samples_per_s")
    }
    rows = []
    for r in records:
        base = single.get((r["features"], r["precision"]))
        if r["replicas"] > 1 and r.get("samples_per_s") and base:
            value = round(r["samples_per_s"] / base["samples_per_s"], 2)
            r["speedup"] = value
            rows.append({"config": r["name"], "over": base["name"], "samples_per_s_ratio": value})
    return rows


def _gib(value):
    return f"{value / 2**30:.2f}" if value is not None else "-"


def _new_seen(record) -> str:
    values = [record.get(f"step_compute_ms_{k}_length") for k in ("new", "seen")]
    return "/".join("-" if v is None else f"{v:.0f}" for v in values)


def table(report: dict) -> str:
    header = [
        "config", "rep", "batch", "crop", "steps", "1st step s", "steps/s", "samples/s",
        "step ms new/seen len", "input wait", "CPU s/step", "peak GiB", "speed-up", "status",
    ]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in report["configs"]:
        crop = r.get("crop_frames")
        peak = r.get("peak_memory_bytes")
        cells = [
            r["name"],
            str(r["replicas"]),
            str(r["global_batch"]),
            "-" if not crop else (f"{crop[0]}" if crop[0] == crop[1] else f"{crop[0]}-{crop[1]}"),
            str(r.get("steps", "-")),
            f"{r['first_step_s']:.1f}" if "first_step_s" in r else "-",
            f"{r['steps_per_s']:.2f}" if r.get("steps_per_s") else "-",
            f"{r['samples_per_s']:.0f}" if r.get("samples_per_s") else "-",
            _new_seen(r),
            f"{100 * r['input_wait_share']:.0f} %"
            if r.get("input_wait_share") is not None
            else "-",
            f"{r['host_cpu_s_per_step']:.2f}" if r.get("host_cpu_s_per_step") is not None else "-",
            _gib(max(peak.values())) if peak else "-",
            f"{r['speedup']:.2f}x" if r.get("speedup") else "-",
            r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('error', '')}"[:90],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    inference = report.get("inference") or {}
    if inference.get("latency"):
        lines += [
            "",
            "| SavedModel serving_default | device | first call ms | median ms | p90 ms |",
        ]
        lines.append("|---|---|---|---|---|")
        for row in inference["latency"]:
            lines.append(
                f"| {row['seconds']} s clip, batch {row['batch']} | {row['device']} | "
                f"{row['first_call_ms']:.1f} | {row['median_ms']:.1f} | {row['p90_ms']:.1f} |"
            )
    elif inference.get("error"):
        lines += ["", f"SavedModel latency: failed: {inference['error']}"]
    return "\n".join(lines)


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
    from s2f_tf.config import preset
    from s2f_tf.data import pipeline
    from s2f_tf.data.info import load_info

    plan = settings(args, len(gpus))
    deadline = STARTED + args.budget_s
    report = {
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
    base = preset(plan["preset"])
    saved_cache = pipeline.FEATURE_CACHE_BYTES
    if not args.cache_features:
        pipeline.FEATURE_CACHE_BYTES = 0  # stream, as VoxCeleb-sized splits do
    with contextlib.ExitStack() as stack:
        stack.callback(setattr, pipeline, "FEATURE_CACHE_BYTES", saved_cache)
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="s2f_gpu_check_")))
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
            record, gan = dict(spec), None
            report["configs"].append(record)
            if now >= deadline - reserve - plan["start_margin_s"]:
                record.update(status="skipped", error="time budget spent")
                continue
            print(f"[gpu_check] {spec['name']} ...", file=sys.stderr, flush=True)
            try:
                strategy = strategy_for(spec["replicas"], len(gpus), strategies)
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
    report["speedups"] = speedups(report["configs"])
    report["host_peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    report["failed"] = [r["name"] for r in report["configs"] if r["status"] != "ok"]
    _write(args.out, report)
    print(table(report))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    code = main()
    if any(t.name == "iterator-teardown" and t.is_alive() for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # everything is written; do not wait for an input pipeline to wind down
    sys.exit(code)
