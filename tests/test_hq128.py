"""The hq128 preset's parts (resize generator, spectral norm, hinge + R1) and its 128-px path."""

import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_test_case import run_model_saving_test, run_serialization_test
from PIL import Image

from s2f_tf import losses
from s2f_tf.config import preset
from s2f_tf.models import Generator, build_models
from s2f_tf.models.optimizers import adam
from s2f_tf.models.spectral_norm import SpectralConv2D
from s2f_tf.train import loop
from s2f_tf.train.builder import build_gan
from s2f_tf.train.distribute import make_strategy
from s2f_tf.train.gan_model import VoiceToFaceGAN
from s2f_tf.train.loop import make_distributed_step

sys.path.insert(0, str(Path(__file__).parent))
from train_worker import NUM_CLASSES, recipe_batches, toy_batches, toy_dataset_fn  # noqa: E402

TINY128 = preset("tiny128")
BATCH = 8


def _input(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# === The networks ===


def test_hq128_networks_make_and_judge_128_px_faces():
    models = build_models(preset("hq128"), num_classes=7)
    faces = models.generator(_input((2, 64)))
    assert tuple(faces.shape) == (2, 128, 128, 3)
    assert tuple(models.face_embedder(faces).shape) == (2, 64)
    names = [layer.name for layer in models.generator.blocks]
    assert "up1" in names and "conv5" in names and not any(n.startswith("deconv1") for n in names)
    assert all(
        isinstance(layer, SpectralConv2D)
        for layer in models.face_embedder.blocks
        if isinstance(layer, keras.layers.Conv2D)
    )


def test_resize_generator_has_no_checkerboard_where_transposed_convs_do():
    """A random generator's faces: the energy at the highest frequency (period 2 px) relative to the
    whole spectrum is far lower for resize + conv than for stride-2 transposed convolutions of the same
    widths (the checkerboard of Odena et al. 2016)."""

    def nyquist_share(upsample):
        keras.utils.set_random_seed(4)
        generator = Generator(channels=(64, 64, 32, 32, 16), upsample=upsample)
        faces = np.asarray(generator(_input((16, 64))))
        gray = faces.mean(-1) - faces.mean(axis=(1, 2, 3))[:, None, None]
        power = np.abs(np.fft.fft2(gray)) ** 2
        return power[:, 32, :].sum() / power.sum()  # the row of vertical frequency 1/2

    assert nyquist_share("resize") < 0.2 * nyquist_share("transpose")


@pytest.mark.parametrize("net", ["generator", "face_embedder"])
def test_hq128_networks_serialize_and_save(net, tmp_path):
    models = build_models(TINY128, num_classes=3)
    x = _input((2, 64)) if net == "generator" else _input((2, 128, 128, 3))
    run_serialization_test(getattr(models, net), x)
    run_model_saving_test(getattr(models, net), x, tmp_path)


def test_spectral_norm_makes_the_largest_singular_value_one():
    keras.utils.set_random_seed(0)
    conv = SpectralConv2D(8, 3)
    conv.build((None, 6, 6, 5))
    conv.kernel.assign(3.0 * conv.kernel.numpy())
    x = _input((1, 6, 6, 5))
    u_before = conv.u.numpy().copy()
    conv(x)  # inference: u is not updated
    np.testing.assert_array_equal(conv.u.numpy(), u_before)
    for _ in range(30):  # one power iteration per training call
        conv(x, training=True)
    sigma = np.linalg.svd(conv.normalized_kernel().numpy().reshape(-1, 8), compute_uv=False)[0]
    assert abs(sigma - 1.0) < 1e-3
    # The layer computes the convolution with the normalised kernel.
    expected = tf.nn.conv2d(x, conv.normalized_kernel(), 1, "VALID") + conv.bias
    np.testing.assert_allclose(conv(x), expected, atol=1e-5)


# === Losses ===


def test_hinge_losses_and_r1_penalty_values():
    real, fake = tf.constant([[2.0], [0.5]]), tf.constant([[-3.0], [0.25]])
    np.testing.assert_allclose(losses.discriminator_hinge_loss(real, fake), [0.0, 1.75])
    np.testing.assert_allclose(losses.generator_hinge_loss(fake), [3.0, -0.25])
    gradients = tf.reshape(tf.range(8, dtype=tf.float32), [2, 2, 2, 1])  # per example 0..3, 4..7
    np.testing.assert_allclose(losses.r1_penalty(gradients, 2.0), [14.0, 126.0])


def test_r1_metric_is_half_gamma_times_the_squared_input_gradient():
    """The step's R1 term, against an independent computation on the same weights (a plain face
    embedder: spectral norm would move its state in the first forward pass)."""
    # No L1 or DiffAugment: the R1 term is then taken on the batch's real faces as they are.
    recipe_off = {"reconstruction_weight": 0.0, "diff_augment": ""}
    config = TINY128.replace(model={"spectral_norm": False}, train={"r1_gamma": 3.0, **recipe_off})
    keras.utils.set_random_seed(2)
    gan = build_gan(config, NUM_CLASSES)
    batch = {k: v[0] for k, v in toy_batches(1, BATCH, image_size=128).items()}
    real = tf.constant(batch["face"])
    with tf.GradientTape() as tape:
        tape.watch(real)
        logits = gan.models.discriminator(gan.models.face_embedder(real))
    gradient = tape.gradient(logits, real).numpy()
    expected = 1.5 * np.sum(gradient.reshape(BATCH, -1) ** 2, axis=1).mean()
    metrics = gan(batch, BATCH)
    assert abs(float(metrics["loss/d_r1"]) - expected) <= 1e-4 * max(1.0, expected)
    assert expected > 0


# === Training under tf.distribute and fit() ===


def _custom_loop(strategy, steps=3, config=TINY128):
    keras.utils.set_random_seed(1)
    with strategy.scope():
        gan = build_gan(config, NUM_CLASSES)
    dataset = tf.data.Dataset.from_tensor_slices(recipe_batches(steps, BATCH, image_size=128))
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    step = make_distributed_step(strategy, gan, BATCH)
    return gan, [{k: float(v) for k, v in step(next(batches)).items()} for _ in range(steps)]


def _weights(models):
    return [v.numpy() for v in models.generator.weights + models.face_embedder.weights]


def test_hq128_step_is_exact_across_replica_counts_and_keeps_replicas_in_sync():
    one, losses_one = _custom_loop(tf.distribute.OneDeviceStrategy("/cpu:0"))
    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    two, losses_two = _custom_loop(strategy)
    assert set(losses_two[0]) == set(two.METRICS) | {"loss/d_r1", "loss/g_reconstruction"}
    for a, b in zip(losses_one, losses_two, strict=True):
        for key in a:
            assert abs(a[key] - b[key]) <= 1e-4 * max(1.0, abs(a[key])), key
    # Float round-off only (second-order gradients summed in another order): well under one Adam step
    # of 2e-4.
    for a, b in zip(_weights(one.models), _weights(two.models), strict=True):
        np.testing.assert_allclose(a, b, atol=2e-4)
    # The spectral-norm vectors moved, and hold the same value on both replicas.
    u = [layer.u for layer in two.models.face_embedder.blocks if isinstance(layer, SpectralConv2D)]
    assert u
    for variable in u:
        copies = [c.numpy() for c in variable.value.values]
        np.testing.assert_array_equal(copies[0], copies[1])


def test_fit_driver_runs_the_hq128_step_like_the_custom_loop():
    reference, _ = _custom_loop(tf.distribute.get_strategy())
    keras.utils.set_random_seed(1)
    models = build_models(TINY128, NUM_CLASSES)
    t = TINY128.train
    gan = VoiceToFaceGAN.from_config(models, TINY128)
    gan.compile(adam(t), adam(t))
    dataset = tf.data.Dataset.from_tensor_slices(recipe_batches(3, BATCH, image_size=128))
    history = gan.fit(dataset, epochs=1, verbose=0)
    assert set(history.history) == set(reference.METRICS) | {"loss/d_r1", "loss/g_reconstruction"}
    for a, b in zip(_weights(reference.models), _weights(models), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_time_budget_stops_training_with_a_checkpoint_and_a_rerun_continues(tmp_path):
    config = TINY128.replace(
        train={"checkpoint_every": 100, "image_every": 100, "reconstruction_weight": 0.0}
    )  # toy batches carry no paired real face
    strategy = tf.distribute.get_strategy()
    dataset_fn = toy_dataset_fn(4, image_size=128)
    first = loop.train_gan(
        config,
        tmp_path,
        dataset_fn,
        NUM_CLASSES,
        strategy,
        steps=50,
        progress=False,
        time_budget=1e-3,
    )
    assert first["stopped_by"] == "time_budget" and first["steps"] == 1
    assert first["checkpoint"].endswith("ckpt-1")
    second = loop.train_gan(
        config,
        tmp_path,
        dataset_fn,
        NUM_CLASSES,
        strategy,
        steps=3,
        progress=False,
        time_budget=600,
    )
    assert second["stopped_by"] == "steps" and second["resumed_from"] == 1
    assert second["steps"] == 3


# === The whole path on the command line ===


@pytest.mark.slow
def test_tiny128_demo_trains_exports_generates_and_evaluates_at_128_px(tmp_path, capsys):
    from s2f_tf.cli import main
    from s2f_tf.data.info import load_info

    out, models = tmp_path / "demo", tmp_path / "models" / "s2f_tiny128"
    argv = [
        "demo",
        "--out",
        str(out),
        "--models",
        str(models),
        "--preset",
        "tiny128",
        "--identities",
        "8",
        "--utterances",
        "3",
        "--faces",
        "3",
        "--pretrain-steps",
        "4",
        "--train-steps",
        "4",
        "--classifier-steps",
        "5",
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert load_info(out / "data").image_size == 128  # prepare wrote the preset's size
    metrics = json.loads((Path(summary["evaluation"]).parent / "metrics.json").read_text())
    assert metrics["model"]["config"] == "tiny128"
    unseen = metrics["model"]["splits"]["unseen"]["trained"]
    assert 0 <= unseen["matching"]["value"] <= 1 and unseen["samples"] > 0
    # The exported model: SavedModel and every TFLite file make 128-px faces.
    from ai_edge_litert.interpreter import Interpreter

    loaded = tf.saved_model.load(summary["savedmodel"])
    face = loaded.signatures["serving_default"](waveform=tf.zeros([1, 8000]))["face"]
    assert tuple(face.shape) == (1, 128, 128, 3) and face.dtype == tf.uint8
    for path in summary["tflite"].values():
        runner = Interpreter(model_path=path).get_signature_runner()
        got = runner(waveform=0.1 * _input((1, 8000)))
        assert got["face"].shape == (1, 128, 128, 3)
    # generate writes the 128-px face.
    png = tmp_path / "face.png"
    wav = next((out / "corpus" / "wav").rglob("*.wav"))
    assert main(["generate", "--model", summary["savedmodel"], "--wav", str(wav),
                 "--out", str(png)]) == 0  # fmt: skip
    with Image.open(png) as image:
        assert image.size[1] >= 128
    capsys.readouterr()
    # Training resumes from the demo's checkpoint.
    work = out / "workdir"
    assert main(["train", "--data", str(out / "data"), "--workdir", str(work), "--steps", "6",
                 "--no-progress"]) == 0  # fmt: skip
    resumed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert resumed["resumed_from"] == 4 and resumed["steps"] == 6
