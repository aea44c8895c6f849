"""gpu_check's inference: the trained encoder and generator exported as `s2f export` does, and the
SavedModel's serving_default timed on 1, 3 and 10 s clips."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import s2f_tf  # noqa: F401 - before TensorFlow starts, also when imported alone (s2f_tf.onednn)

LATENCY_SECONDS = (1, 3, 10)


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
