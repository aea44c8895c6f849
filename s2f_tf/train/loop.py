"""The custom training driver: the GAN step under tf.distribute, resumable and observable.

`train_gan` is build -> distribute -> loop -> checkpoint/log: `build_training` makes the step and its
checkpoints inside the strategy's scope, `make_distributed_step` runs the step on every replica, and
`TrainingLog` keeps the loss history, the progress bar, TensorBoard and the sample grids.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from s2f_tf import images
from s2f_tf import workdir as wd
from s2f_tf.config import Config
from s2f_tf.errors import S2FError
from s2f_tf.models.voice_to_face import voice_embedding
from s2f_tf.train.builder import build_gan
from s2f_tf.train.checkpoints import Checkpoints
from s2f_tf.train.distribute import is_chief


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
    time_budget: float | None = None,
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
        time_budget: stop (and checkpoint) once this run has trained this many wall-clock seconds, the
            first step's tracing included, even before `steps`; None: no limit.
    Returns the JSON-able summary ("stopped_by": "steps" or "time_budget").
    """
    workdir = Path(workdir)
    train = config.train
    if time_budget is not None and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Each worker's clock would stop it at its own step, and the others would wait forever.
        raise S2FError("a time budget needs one host: workers could stop at different steps")
    total_steps = steps if steps is not None else train.steps
    chief = is_chief(strategy)

    keras.utils.set_random_seed(train.seed)  # the initial weights (a resumed run restores them)
    gan, step_var, checkpoints = build_training(
        config, num_classes, strategy, workdir, encoder_weights
    )
    restored = checkpoints.restore()
    start = same_start(strategy, int(step_var.numpy()), checkpoints.directory)

    dataset = strategy.distribute_datasets_from_function(
        lambda context: dataset_fn(context, start_step=start)
    )
    batches = iter(dataset)
    distributed_step = make_distributed_step(strategy, gan, train.batch_size, train.jit_compile)
    log = TrainingLog(workdir, gan, train, preview, chief, total_steps, start, progress)
    deadline = None if time_budget is None else time.perf_counter() + time_budget
    step, last_saved, stopped_by = _train_steps(
        (distributed_step, batches), step_var, checkpoints, log, train,
        (start, total_steps), restored, deadline,
    )  # fmt: skip
    log.close()
    if step == start and start > 0:
        last_saved = restored  # nothing to do: already trained this far
    elapsed = time.perf_counter() - log.started
    # Stop the input pipeline now, while we wait for it, rather than at some later garbage collection.
    teardown = time.perf_counter()
    del batches, dataset
    teardown = time.perf_counter() - teardown
    run = {"workdir": str(workdir), "start": start, "restored": restored, "step": step}
    return _finish(strategy, log, run, stopped_by, last_saved, elapsed, teardown, train.batch_size)


def _finish(strategy, log, run, stopped_by, last_saved, elapsed, teardown, global_batch) -> dict:
    """After the last step: the workers leave together, the log is flushed; the run's summary."""
    step, start = run["step"], run["start"]
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Leave together: the first worker hosts the cluster's coordination service, and the others
        # log heartbeat errors if it is gone while they still tear their input down.
        _over_workers(strategy, step)
    log.flush()
    trained = step - start
    return {
        "workdir": run["workdir"],
        "steps": step,
        "resumed_from": start if run["restored"] else None,
        "steps_this_run": trained,
        "stopped_by": stopped_by,
        "seconds": round(elapsed, 2),
        "seconds_per_step": round(elapsed / trained, 4) if trained else None,
        "input_teardown_seconds": round(teardown, 2),
        "replicas": strategy.num_replicas_in_sync,
        "global_batch_size": global_batch,
        "checkpoint": last_saved,
        "final": log.final(),
    }


def _train_steps(runner, step_var, checkpoints, log, train, span, last_saved, deadline):
    """`runner` = (distributed step, batch iterator): steps from `span` = (start, total) until total or the `deadline` (perf_counter seconds; None:
    none): each step logged, a checkpoint every `checkpoint_every` steps and at the end, a preview every
    `image_every`. Returns (the last step, the last checkpoint saved, "steps" or "time_budget")."""
    (distributed_step, batches), (step, total_steps) = runner, span
    stopped_by = "steps"
    while step < total_steps:
        metrics = {k: float(v) for k, v in distributed_step(next(batches)).items()}
        step += 1
        step_var.assign(step)
        log.record(step, metrics, last_saved)
        last = step == total_steps
        if deadline is not None and not last and time.perf_counter() >= deadline:
            last, stopped_by = True, "time_budget"
        if step % train.checkpoint_every == 0 or last:
            last_saved = checkpoints.save(step)
        if step % train.image_every == 0 or last:
            log.draw_preview(step)
        if last:
            break
    return step, last_saved, stopped_by


def _over_workers(strategy, step: int) -> tuple[float, float, float]:
    """(sum of `step`, sum of its square, number of workers) over the workers of a multi-worker
    strategy: a collective every worker must reach, so also a barrier."""
    mine = tf.constant(step, tf.float64)  # exact for any step count

    @tf.function
    def moments():
        per_replica = strategy.run(lambda: tf.stack([mine, mine * mine, tf.ones_like(mine)]))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    total, squares, count = (float(v) for v in moments().numpy())
    return total, squares, count


def same_start(strategy, step: int, directory) -> int:
    """`step`, once every worker of a multi-worker run has restored the same one; S2FError on every
    worker if not (each would otherwise run another number of steps and wait forever for the others).

    Every worker restores from the chief's checkpoints (`Checkpoints`), so they must see that folder:
    the same --workdir on a filesystem all hosts share."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return step
    total, squares, count = _over_workers(strategy, step)
    if count * squares != total * total:  # not all equal: every worker sees the same numbers
        raise S2FError(
            f"this worker restored step {step}, the workers' mean is {total / count:g}: every worker"
            f" must read the chief's checkpoints in {directory} (the same --workdir on a filesystem"
            " all hosts share)"
        )
    return step


def build_training(config: Config, num_classes: int, strategy, workdir, encoder_weights=None):
    """(GANStep, step variable, Checkpoints): built inside `strategy.scope()` (docs/recipe.md, TensorFlow pitfall 2); the
    checkpoints hold every network, both optimizers and the step (only the chief keeps them)."""
    with strategy.scope():
        gan = build_gan(config, num_classes, encoder_weights=encoder_weights)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    m = gan.models
    checkpoints = Checkpoints(
        Path(workdir) / wd.CHECKPOINTS,
        is_chief=is_chief(strategy),
        step=step_var,
        generator=m.generator,
        face_embedder=m.face_embedder,
        discriminator=m.discriminator,
        classifier=m.classifier,
        voice_encoder=m.voice_encoder,
        g_optimizer=gan.g_optimizer,
        d_optimizer=gan.d_optimizer,
    )
    return gan, step_var, checkpoints


def make_distributed_step(strategy, gan, global_batch_size: int, jit_compile: bool = False):
    """`batch -> metrics`: one GAN step on every replica of `strategy` (a distributed batch in, the
    global means out, as `GANStep` returns them).

    Replicas may get different crop lengths in one step, so the step is traced once as part of the
    whole replicated graph (one nested tf.function per replica would trace per shape, and differently
    traced replicas disagree on the order of their gradient all-reduces). XLA compiles the step itself.
    """
    replica_step = tf.function(gan, jit_compile=True) if jit_compile else gan

    @tf.function(reduce_retracing=True)  # the crop length changes every batch: trace for any length
    def distributed_step(batch):
        metrics = strategy.run(replica_step, args=(batch, global_batch_size))
        return strategy.experimental_local_results(metrics)[0]

    return distributed_step


class TrainingLog:
    """The observable side of training: loss history, progress bar, TensorBoard scalars and images,
    sample PNGs (TensorBoard and samples on the chief only); a non-finite loss stops training."""

    def __init__(self, workdir, gan, train, preview, chief, total_steps, start, progress):
        self.models, self.train, self.preview, self.chief = gan.models, train, preview, chief
        self.total_steps = total_steps
        self.writer = (
            tf.summary.create_file_writer(str(workdir / wd.LOGS / "train")) if chief else None
        )
        self.samples_dir = workdir / wd.SAMPLES
        self.history = {}
        self.started = time.perf_counter()
        self.bar = tqdm(
            total=total_steps,
            initial=start,
            desc="train",
            unit="step",
            disable=not (progress and chief),
        )

    def record(self, step: int, metrics: dict, last_saved):
        """Keep one step's metrics; every `log_every` steps (and at the end) log their means."""
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            self.bar.close()
            raise NonFiniteLoss(
                f"{', '.join(bad)} became non-finite at step {step}; stopped without saving "
                f"(last good checkpoint: {last_saved or 'none'})"
            )
        for key, value in metrics.items():
            self.history.setdefault(key, []).append(value)
        self.bar.update(1)
        if step % self.train.log_every == 0 or step == self.total_steps:
            means = self.final(digits=None)
            self.bar.set_postfix(
                d=f"{means['loss/d_adversarial']:.3f}", g=f"{means['loss/g_adversarial']:.3f}"
            )
            if self.writer is not None:
                with self.writer.as_default(step=step):
                    for key, value in means.items():
                        tf.summary.scalar(key, value)
                    tf.summary.scalar("steps_per_second", self.bar.format_dict["rate"] or 0.0)

    def draw_preview(self, step: int):
        """The real | generated grid of the preview batch, to TensorBoard and samples/step_XXXXXX.png."""
        if self.preview is None or not self.chief:
            return None
        m = self.models
        fake = m.generator(voice_embedding(m.voice_encoder, self.preview["voice"]))
        grid = images.pairs_grid(self.preview["face"], images.to_uint8(np.asarray(fake)))
        with self.writer.as_default(step=step):
            tf.summary.image("samples/real_vs_generated", grid[None], step=step)
        return images.save_png(self.samples_dir / f"step_{step:06d}.png", grid)

    def final(self, digits: int | None = 4) -> dict:
        """The means of the last `log_every` steps of every metric (rounded to `digits`)."""
        window = self.train.log_every
        means = {k: float(np.mean(v[-window:])) for k, v in self.history.items()}
        return means if digits is None else {k: round(v, digits) for k, v in means.items()}

    def close(self):
        self.bar.close()

    def flush(self):
        if self.writer is not None:
            self.writer.flush()
