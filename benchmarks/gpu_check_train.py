"""gpu_check's training configurations: the strategy and config of one, and `run_config`, which builds,
warms up and times it (see benchmarks/gpu_check.py for what each field of its record means)."""

from __future__ import annotations

import gc
import math
import os
import statistics
import threading
import time

import s2f_tf  # noqa: F401 - before TensorFlow starts, also when imported alone (s2f_tf.onednn)


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


def run_config(record: dict, config, data_dir: str, num_classes: int, strategy, limits: dict):
    """Build, warm up and time one configuration, filling `record` as it goes (what was measured before
    a failure stays); returns the trained GAN step."""
    memory = _memory_names(_devices(strategy))
    gan, step, batches, traces = _build(record, config, data_dir, num_classes, strategy, memory)
    seen = set()  # crop lengths (their tensor shape) run so far
    one_step = _stepper(step, batches, strategy, seen)
    wait, compute, _, _ = one_step()
    record["first_batch_s"] = round(wait, 2)
    record["first_step_s"] = round(compute, 2)
    t0 = time.perf_counter()
    for _ in range(limits["warmup_steps"]):
        one_step()
    record["warmup_steps"] = limits["warmup_steps"]
    record["warmup_s"] = round(time.perf_counter() - t0, 2)
    measured = _steady_state(one_step, limits)
    limits["pending"].append(_drop_in_background(batches, record))
    _record_steady_state(record, measured, traces, seen, config.train.batch_size, memory)
    return gan


def _build(record: dict, config, data_dir: str, num_classes: int, strategy, memory):
    """(the GAN step, its distributed step, [the batches' iterator], the tracings list), each timed
    into `record`."""
    from s2f_tf.train.builder import build_gan
    from s2f_tf.train.data import gan_dataset_fn

    global_batch = config.train.batch_size
    record.update(
        devices=_devices(strategy),
        global_batch=global_batch,
        per_replica_batch=global_batch // strategy.num_replicas_in_sync,
        crop_frames=[config.audio.train_min_frames, config.audio.train_max_frames],
    )
    gc.collect()
    record["memory_before_bytes"] = _memory(memory, "current")
    _reset_memory(memory)
    t0 = time.perf_counter()
    with strategy.scope():
        gan = build_gan(config, num_classes)
    record["build_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    dataset_fn = gan_dataset_fn(data_dir, config)
    dataset = strategy.distribute_datasets_from_function(lambda c: dataset_fn(c, start_step=0))
    batches = [iter(dataset)]  # a list, so that the iterator can be dropped (and timed) later
    record["dataset_s"] = round(time.perf_counter() - t0, 2)
    step, traces = make_distributed_step(
        strategy, gan, global_batch, config.train.jit_compile, dataset.element_spec
    )
    return gan, step, batches, traces


def _stepper(step, batches: list, strategy, seen: set):
    """A function running one step: (input wait s, step s, losses, whether the crop length is new);
    it reads the losses back every step, as train_gan does."""

    def one_step():
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

    return one_step


def _steady_state(one_step, limits: dict) -> dict:
    """Steps after warm-up until `limits` say stop: their input waits, wall times, losses, compute
    times by whether the crop length was new, and the wall and process CPU seconds they took."""
    waits, walls, losses, by_length = [], [], {}, {True: [], False: []}
    cpu0 = _cpu_seconds()
    steady0 = time.perf_counter()
    deadline = limits["deadline"]
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
    return {"waits": waits, "walls": walls, "losses": losses, "by_length": by_length,
            "steady": steady, "cpu": cpu}  # fmt: skip


def _record_steady_state(record, measured, traces, seen, global_batch, memory) -> None:
    import numpy as np

    waits, walls, by_length = measured["waits"], measured["walls"], measured["by_length"]
    steady, cpu = measured["steady"], measured["cpu"]
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
        losses={k: round(float(np.mean(v)), 4) for k, v in measured["losses"].items()},
        status="ok" if n else "no steady-state steps (time budget)",
    )


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
