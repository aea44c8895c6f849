"""The GAN step and its drivers: replicas, exact global-batch scaling, fit() parity, resume, NaN stop."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from s2f_tf.config import preset
from s2f_tf.errors import S2FError
from s2f_tf.models import build_models
from s2f_tf.models.optimizers import adam
from s2f_tf.train import loop
from s2f_tf.train.builder import build_gan, fast_bfloat16
from s2f_tf.train.checkpoints import Checkpoints
from s2f_tf.train.distribute import make_strategy
from s2f_tf.train.gan_model import VoiceToFaceGAN
from s2f_tf.train.loop import make_distributed_step
from s2f_tf.workdir import load_config, save_or_check_config

sys.path.insert(0, str(Path(__file__).parent))
from train_worker import NUM_CLASSES, toy_batches, toy_dataset_fn  # noqa: E402

WORKER = Path(__file__).parent / "train_worker.py"
CONFIG = preset("tiny")
BATCH = 8


def _dataset(count=3):
    return tf.data.Dataset.from_tensor_slices(toy_batches(count, BATCH))


def _weights(models):
    return [v.numpy() for v in models.generator.weights + models.face_embedder.weights]


def _custom_loop(strategy, steps=3, config=CONFIG, after_step=None):
    keras.utils.set_random_seed(1)
    with strategy.scope():
        gan = build_gan(config, NUM_CLASSES)
    batches = iter(strategy.experimental_distribute_dataset(_dataset(steps)))
    step = make_distributed_step(strategy, gan, BATCH)

    losses = []
    for _ in range(steps):
        losses.append({k: float(v) for k, v in step(next(batches)).items()})
        if after_step is not None:
            after_step(gan)
    return gan, losses


def _two_cpus():
    # The process-wide MirroredStrategy over the two logical CPUs of conftest.py: a second
    # MirroredStrategy object in one process restarts the collective instance keys, and its
    # all-reduces then collide with the first one's (see s2f_tf.train.distribute.make_strategy).
    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    return strategy


def test_two_replicas_train_and_stay_in_sync():
    keras.utils.set_random_seed(1)
    with _two_cpus().scope():
        initial = build_gan(CONFIG, NUM_CLASSES).models
    before = {
        "g": _weights(initial)[0].copy(),
        "enc": [v.numpy().copy() for v in initial.voice_encoder.weights],
    }
    gan, losses = _custom_loop(_two_cpus())
    m = gan.models
    assert all(np.isfinite(v) for record in losses for v in record.values())
    assert set(losses[0]) == set(gan.METRICS)
    # Same seed -> same initial weights; training moved G and D but not the frozen encoder.
    assert np.abs(m.generator.weights[0].numpy() - before["g"]).max() > 1e-6
    assert np.abs(m.discriminator.weights[0].numpy()).max() > 0
    for v, v0 in zip(m.voice_encoder.weights, before["enc"], strict=True):
        np.testing.assert_array_equal(v.numpy(), v0)
    # Every mirrored variable holds the same value on both replicas.
    for variable in m.generator.weights + m.face_embedder.weights + m.classifier.weights:
        copies = [c.numpy() for c in variable.value.values]
        assert len(copies) == 2
        np.testing.assert_array_equal(copies[0], copies[1])


@pytest.mark.parametrize("replicas,warmup", [(1, False), (2, False), (1, True), (2, True)])
def test_generator_ema_is_the_moving_average_of_the_trained_weights(replicas, warmup):
    """train.generator_ema: Keras' EMA of G's weights, kept on every replica, swapped in on request;
    with train.generator_ema_warmup its momentum at update t is min(m, (1 + t) / (10 + t))."""
    momentum = 0.6
    config = CONFIG.replace(train={"generator_ema": momentum, "generator_ema_warmup": warmup})
    expected = []

    def track(gan):
        weights = [v.numpy() for v in gan.models.generator.trainable_variables]
        t = int(gan.g_optimizer.iterations.numpy()) - 1  # the update just made
        m = min(momentum, (1 + t) / (10 + t)) if warmup else momentum  # 0.18, 0.25 at t = 1, 2
        if not expected:
            expected.extend(weights)  # Keras starts the average at the first updated value
        else:
            expected[:] = [m * e + (1 - m) * w for e, w in zip(expected, weights, strict=True)]

    strategy = _two_cpus() if replicas == 2 else tf.distribute.OneDeviceStrategy("/cpu:0")
    gan, _ = _custom_loop(strategy, steps=3, config=config, after_step=track)
    generator = gan.models.generator
    live = [v.numpy() for v in generator.trainable_variables]
    assert (
        max(np.abs(a - b).max() for a, b in zip(live, expected, strict=True)) > 1e-6
    )  # EMA != last weights
    gan.g_optimizer.finalize_variable_values(generator.trainable_variables)
    for variable, value in zip(generator.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(variable.numpy(), value, atol=1e-6)
        if replicas == 2:
            copies = [c.numpy() for c in variable.value.values]
            np.testing.assert_array_equal(copies[0], copies[1])
    assert not build_gan(CONFIG, NUM_CLASSES).g_optimizer.use_ema  # off unless asked (the recipe)


def test_global_batch_scaling_is_exact_across_replica_counts():
    one, losses_one = _custom_loop(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two, losses_two = _custom_loop(_two_cpus())
    for a, b in zip(losses_one, losses_two, strict=True):
        for key in a:
            assert abs(a[key] - b[key]) <= 1e-5, key
    for a, b in zip(_weights(one.models), _weights(two.models), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("replicas", [1, 2])
def test_fit_driver_matches_custom_loop(replicas):
    strategy = _two_cpus() if replicas == 2 else tf.distribute.get_strategy()
    reference, _ = _custom_loop(tf.distribute.get_strategy())
    keras.utils.set_random_seed(1)
    with strategy.scope():
        models = build_models(CONFIG, NUM_CLASSES)
        gan = VoiceToFaceGAN(models)
        gan.compile(adam(CONFIG.train), adam(CONFIG.train))
    history = gan.fit(_dataset(), epochs=1, verbose=0)
    assert set(history.history) == set(reference.METRICS)
    for a, b in zip(_weights(reference.models), _weights(models), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert gan(np.zeros((2, 30, 64), np.float32)).shape == (2, 64, 64, 3)


def test_train_gan_writes_checkpoints_logs_samples_and_resumes(tmp_path):
    config = CONFIG.replace(train={"checkpoint_every": 2, "image_every": 2, "log_every": 1})
    preview = {
        "voice": np.random.default_rng(0).standard_normal((3, 30, 64)).astype("float32"),
        "face": np.zeros((3, 64, 64, 3), np.uint8),
    }
    strategy = tf.distribute.get_strategy()
    first = loop.train_gan(
        config,
        tmp_path,
        toy_dataset_fn(4),
        NUM_CLASSES,
        strategy,
        steps=3,
        preview=preview,
        progress=False,
    )
    assert first["steps"] == 3 and first["resumed_from"] is None
    assert first["checkpoint"].endswith("ckpt-3")
    assert sorted(p.name for p in (tmp_path / "samples").glob("*.png")) == [
        "step_000002.png",
        "step_000003.png",
    ]
    assert list((tmp_path / "logs" / "train").glob("events.out.tfevents.*"))
    second = loop.train_gan(
        config, tmp_path, toy_dataset_fn(4), NUM_CLASSES, strategy, steps=5, progress=False
    )
    assert second["resumed_from"] == 3 and second["steps"] == 5 and second["steps_this_run"] == 2


def test_inference_models_load_the_generator_ema(tmp_path):
    """With train.generator_ema, evaluation and export get the averaged generator, not the last one."""
    from s2f_tf import workdir as wd
    from s2f_tf.models import Generator

    config = CONFIG.replace(train={"generator_ema": 0.5, "checkpoint_every": 2})
    save_or_check_config(tmp_path, config)
    build_models(config, NUM_CLASSES).voice_encoder.save_weights(tmp_path / wd.ENCODER_WEIGHTS)
    strategy = tf.distribute.get_strategy()
    loop.train_gan(
        config, tmp_path, toy_dataset_fn(4), NUM_CLASSES, strategy, steps=3, progress=False
    )
    _, _, loaded = wd.load_inference_models(tmp_path)

    checkpoint = wd.latest_checkpoint(tmp_path)
    last = Generator.from_model_config(config.model)
    last.build((None, config.model.embedding_dim))
    optimizer = adam(config.train, ema_momentum=0.5)
    optimizer.build(last.trainable_variables)
    tf.train.Checkpoint(generator=last, g_optimizer=optimizer).restore(checkpoint).expect_partial()
    last_weights = [v.numpy() for v in last.trainable_variables]
    optimizer.finalize_variable_values(last.trainable_variables)
    for got, ema in zip(loaded.trainable_variables, last.trainable_variables, strict=True):
        np.testing.assert_array_equal(got.numpy(), ema.numpy())
    assert (
        max(
            np.abs(g.numpy() - f).max()
            for g, f in zip(loaded.trainable_variables, last_weights, strict=True)
        )
        > 1e-6
    )


def test_non_finite_loss_stops_without_saving(tmp_path):
    config = CONFIG.replace(train={"checkpoint_every": 1})

    def poisoned(context, start_step=0):
        def poison(batch):
            return {**batch, "face": batch["face"] * np.float32("nan")}

        return toy_dataset_fn(4)(context, start_step).skip(2 - start_step).map(poison)

    strategy = tf.distribute.get_strategy()
    loop.train_gan(
        config, tmp_path, toy_dataset_fn(4), NUM_CLASSES, strategy, steps=2, progress=False
    )
    with pytest.raises(loop.NonFiniteLoss, match=r"non-finite at step 3.*ckpt-2"):
        loop.train_gan(config, tmp_path, poisoned, NUM_CLASSES, strategy, steps=4, progress=False)
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-2")


def test_damaged_latest_checkpoint_falls_back_to_previous(tmp_path):
    config = CONFIG.replace(train={"checkpoint_every": 1})
    strategy = tf.distribute.get_strategy()
    loop.train_gan(
        config, tmp_path, toy_dataset_fn(4), NUM_CLASSES, strategy, steps=2, progress=False
    )
    data = next((tmp_path / "checkpoints").glob("ckpt-2.data-*"))
    data.write_bytes(data.read_bytes()[:100])  # cut short
    summary = loop.train_gan(
        config, tmp_path, toy_dataset_fn(4), NUM_CLASSES, strategy, steps=3, progress=False
    )
    assert summary["resumed_from"] == 1 and summary["steps_this_run"] == 2


def test_conflicting_config_is_refused_once_a_checkpoint_depends_on_it(tmp_path):
    save_or_check_config(tmp_path, CONFIG)
    save_or_check_config(tmp_path, CONFIG.replace(train={"batch_size": 2}))  # no checkpoint yet
    (tmp_path / "pretrain").mkdir()
    (tmp_path / "pretrain" / "latest.weights.h5").write_bytes(b"")  # pretraining's backup
    save_or_check_config(tmp_path, CONFIG.replace(train={"batch_size": 8}))  # the GAN's: still free
    with pytest.raises(S2FError) as refused:
        save_or_check_config(tmp_path, CONFIG.replace(model={"embedding_dim": 32}))
    assert str(refused.value) == (
        f"{tmp_path / 'config.json'}: model.embedding_dim is 64 there, 32 asked (fixed since the"
        f" first pretraining checkpoint in {tmp_path / 'pretrain'}); use a new --workdir, or the"
        " saved values to resume"
    )
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "ckpt-2.index").write_bytes(b"")
    gan = CONFIG.replace(train={"batch_size": 8})
    save_or_check_config(tmp_path, gan.replace(train={"steps": 99}))  # longer training is fine
    bf16 = gan.replace(train={"steps": 99, "mixed_precision": True})  # so is another precision
    save_or_check_config(tmp_path, bf16)
    assert load_config(tmp_path) == bf16
    with pytest.raises(S2FError, match=r"train.batch_size is 8 there, 2 asked \(fixed since the"):
        save_or_check_config(tmp_path, CONFIG.replace(train={"batch_size": 2}))


def test_fast_bfloat16_reads_the_cpu_flags():
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("with a GPU the compute capability decides, not the CPU flags")
    assert fast_bfloat16("flags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n") is True
    assert fast_bfloat16("flags\t\t: fpu avx2 avx512f avx512_bf16\n") is False  # Zen 4: no AMX
    assert fast_bfloat16("flags\t\t: fpu avx2 avx512f avx512_vnni\n") is False
    assert fast_bfloat16("") is False
    assert isinstance(fast_bfloat16(), bool)


def _run_worker(workdir, steps, *extra, env=None):
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(workdir), str(steps), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _checksum(output):
    lines = [line for line in output.splitlines() if line.startswith("generator_checksum")]
    assert lines, output[-2000:]
    return float(lines[-1].split()[1])


def test_kill_9_mid_training_resumes_from_last_checkpoint(tmp_path):
    process = _run_worker(tmp_path, 1000, "--slow")
    checkpoints = tmp_path / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(checkpoints.glob("ckpt-*.index"))) < 2:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    latest = tf.train.latest_checkpoint(str(checkpoints))
    assert latest is not None, "no checkpoint before the kill"
    killed_at = int(latest.rsplit("-", 1)[1])
    resumed = _run_worker(tmp_path, killed_at + 2)
    output, _ = resumed.communicate(timeout=180)
    summary = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    assert summary["resumed_from"] == killed_at
    assert summary["steps"] == killed_at + 2 and summary["steps_this_run"] == 2


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_a_non_chief_worker_restores_the_chiefs_checkpoints_and_keeps_nothing(tmp_path):
    """A non-chief worker resumes from the chief's checkpoint folder (not from its own empty
    temporary one) and writes nothing there. The slow two-process test below runs it for real."""
    value = tf.Variable(0.0)
    chief = Checkpoints(tmp_path, value=value)
    value.assign(2.0)
    chief.save(2)
    before = sorted(p.name for p in tmp_path.iterdir())
    worker_value = tf.Variable(-1.0)
    worker = Checkpoints(tmp_path, is_chief=False, value=worker_value)
    assert worker.restore() == str(tmp_path / "ckpt-2") and worker_value.numpy() == 2.0
    worker_value.assign(3.0)
    worker.save(3)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not list(Path(worker.manager.directory).iterdir())


def _multi_worker(workdirs, steps):
    """`train_worker.py` as the two workers of one cluster on loopback ports; their outputs."""
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index, workdir in enumerate(workdirs):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(
            _run_worker(
                workdir,
                steps,
                "--strategy",
                "multi_worker",
                env={"TF_CONFIG": json.dumps(tf_config)},
            )
        )
    try:
        outputs = [p.communicate(timeout=240)[0] for p in processes]
    finally:
        for process in processes:
            process.kill()
    return [p.returncode for p in processes], outputs


@pytest.mark.slow  # two clusters of two processes (test_a_non_chief_worker_restores_... is fast)
def test_multi_worker_mirrored_strategy_two_processes_agree_and_resume(tmp_path):
    chief, other = tmp_path / "w0", tmp_path / "w1"  # the work directory on each host
    codes, outputs = _multi_worker([chief, other], 2)
    assert codes == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    checksums = [_checksum(out) for out in outputs]
    assert checksums[0] == pytest.approx(checksums[1], rel=1e-6)
    assert list((chief / "checkpoints").glob("ckpt-2.index"))  # the chief saved
    assert not (other / "checkpoints").exists()  # the other worker kept nothing
    # Resumed where the other host cannot see the chief's checkpoints: both stop with one reason
    # (before, the other worker started again from step 0 and both waited for each other forever).
    codes, outputs = _multi_worker([chief, other], 4)
    assert 0 not in codes
    for output in outputs:
        assert f"every worker must read the chief's checkpoints in {chief}" in output or (
            f"every worker must read the chief's checkpoints in {other}" in output
        ), output[-3000:]
    # With the work directory shared, every worker resumes from the chief's step: the documented
    # TF_CONFIG command line of tests/test_documented_commands.py resumes that way.
