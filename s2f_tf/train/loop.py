"""The custom training driver: the GAN step under tf.distribute, resumable and observable."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from s2f_tf import images
from s2f_tf import workdir as wd
from s2f_tf.config import Config
from s2f_tf.errors import S2FError
from s2f_tf.train.builder import build_gan
from s2f_tf.train.checkpoints import Checkpoints
from s2f_tf.train.distribute import is_chief
from s2f_tf.train.step import voice_embedding


class NonFiniteLoss(S2FError):
    """A loss became NaN or infinite; training stopped without saving."""


def train_gan(
    config: Config,
    workdir,
    dataset_fn,
    num_classes: int,
    strategy: tf.distribute.Strategy,
    *,
    encoder_weights=None,
    steps: int | None = None,
    preview: dict | None = None,
    progress: bool = True,
) -> dict:
    """Train (or resume) the GAN in `workdir` until `steps` (default config.train.steps).

    Args:
        config: the configuration (already saved/checked in the work directory by the caller).
        workdir: work directory (see s2f_tf.workdir); checkpoints, logs and samples go there.
        dataset_fn: `input_context -> tf.data.Dataset` of per-replica batches (see GANStep), infinite,
            passed to `strategy.distribute_datasets_from_function`. Called with the step to start from
            as keyword `start_step`, so a resumed run does not replay the same samples.
        num_classes: identities in the training split.
        strategy: where to run.
        encoder_weights: pretrained voice encoder weights (frozen); None keeps the initial weights.
        preview: optional {"voice": features [N, T, 64], "face": real uint8 [N, 64, 64, 3]} drawn as a
            real | generated grid to TensorBoard and `samples/step_XXXXXX.png` every `image_every` steps.
    Returns the JSON-able summary.
    """
    workdir = Path(workdir)
    train = config.train
    total_steps = steps if steps is not None else train.steps
    global_batch = train.batch_size
    chief = is_chief(strategy)

    with strategy.scope():
        gan = build_gan(config, num_classes, encoder_weights=encoder_weights)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    m = gan.models
    checkpoints = Checkpoints(
        workdir / wd.CHECKPOINTS,
        is_chief=chief,
        step=step_var,
        generator=m.generator,
        face_embedder=m.face_embedder,
        discriminator=m.discriminator,
        classifier=m.classifier,
        voice_encoder=m.voice_encoder,
        g_optimizer=gan.g_optimizer,
        d_optimizer=gan.d_optimizer,
    )
    restored = checkpoints.restore()
    start = int(step_var.numpy())

    dataset = strategy.distribute_datasets_from_function(
        lambda context: dataset_fn(context, start_step=start)
    )
    batches = iter(dataset)

    # Replicas may get different crop lengths in one step, so the step is traced once as part of the
    # whole replicated graph (one nested tf.function per replica would trace per shape, and differently
    # traced replicas disagree on the order of their gradient all-reduces). XLA compiles the step itself.
    replica_step = tf.function(gan, jit_compile=True) if train.jit_compile else gan

    @tf.function(reduce_retracing=True)  # the crop length changes every batch: trace for any length
    def distributed_step(batch):
        metrics = strategy.run(replica_step, args=(batch, global_batch))
        return strategy.experimental_local_results(metrics)[0]

    writer = tf.summary.create_file_writer(str(workdir / wd.LOGS / "train")) if chief else None
    samples_dir = workdir / wd.SAMPLES

    def draw_preview(step):
        if preview is None or not chief:
            return None
        fake = m.generator(voice_embedding(m.voice_encoder, preview["voice"]))
        grid = images.pairs_grid(preview["face"], images.to_uint8(fake))
        with writer.as_default(step=step):
            tf.summary.image("samples/real_vs_generated", grid[None], step=step)
        return images.save_png(samples_dir / f"step_{step:06d}.png", grid)

    history = {}
    started = time.perf_counter()
    bar = tqdm(
        total=total_steps,
        initial=start,
        desc="train",
        unit="step",
        disable=not (progress and chief),
    )
    last_saved = restored
    step = start
    while step < total_steps:
        metrics = {k: float(v) for k, v in distributed_step(next(batches)).items()}
        step += 1
        step_var.assign(step)
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            bar.close()
            raise NonFiniteLoss(
                f"{', '.join(bad)} became non-finite at step {step}; stopped without saving "
                f"(last good checkpoint: {last_saved or 'none'})"
            )
        for key, value in metrics.items():
            history.setdefault(key, []).append(value)
        bar.update(1)
        if step % train.log_every == 0 or step == total_steps:
            means = {k: float(np.mean(v[-train.log_every :])) for k, v in history.items()}
            bar.set_postfix(
                d=f"{means['loss/d_adversarial']:.3f}", g=f"{means['loss/g_adversarial']:.3f}"
            )
            if writer is not None:
                with writer.as_default(step=step):
                    for key, value in means.items():
                        tf.summary.scalar(key, value)
                    tf.summary.scalar("steps_per_second", bar.format_dict["rate"] or 0.0)
        if step % train.checkpoint_every == 0 or step == total_steps:
            last_saved = checkpoints.save(step)
        if step % train.image_every == 0 or step == total_steps:
            draw_preview(step)
    bar.close()
    if step == start and start > 0:
        last_saved = restored  # nothing to do: already trained this far
    elapsed = time.perf_counter() - started
    # Stop the input pipeline now, while we wait for it, rather than at some later garbage collection.
    teardown = time.perf_counter()
    del batches, dataset
    teardown = time.perf_counter() - teardown
    if writer is not None:
        writer.flush()
    trained = step - start
    return {
        "workdir": str(workdir),
        "steps": step,
        "resumed_from": start if restored else None,
        "steps_this_run": trained,
        "seconds": round(elapsed, 2),
        "seconds_per_step": round(elapsed / trained, 4) if trained else None,
        "input_teardown_seconds": round(teardown, 2),
        "replicas": strategy.num_replicas_in_sync,
        "global_batch_size": global_batch,
        "checkpoint": last_saved,
        "final": {k: round(float(np.mean(v[-train.log_every :])), 4) for k, v in history.items()},
    }
