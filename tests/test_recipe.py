"""The recipe's options beyond the reference: DiffAugment (train/augment.py), the L1 term to a real face
of the voice's identity (losses.l1_distance, data/face_table.py) and both under tf.distribute and fit()."""

import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import prepare_small_corpus

from s2f_tf import losses
from s2f_tf.config import preset
from s2f_tf.data.face_table import FaceTable
from s2f_tf.data.info import load_info
from s2f_tf.data.pipeline import load_faces, train_dataset
from s2f_tf.errors import S2FError
from s2f_tf.models import build_models
from s2f_tf.models.optimizers import adam
from s2f_tf.train.augment import PARAMS, STREAMS, augment
from s2f_tf.train.builder import build_gan
from s2f_tf.train.distribute import make_strategy
from s2f_tf.train.gan_model import VoiceToFaceGAN
from s2f_tf.train.loop import make_distributed_step

sys.path.insert(0, str(Path(__file__).parent))
from train_worker import NUM_CLASSES, recipe_batches  # noqa: E402

BATCH = 8
# The identity draws: no colour change, no shift (floor(0.5 * (2r + 1)) - r = 0), cutout in a corner.
IDENTITY = [0.5, 0.5, 0.5, 0.5, 0.5, 0.0, 0.0]
CONFIG = preset("tiny").replace(
    train={
        "reconstruction_weight": 10.0,
        "feature_matching_weight": 1.0,
        "diff_augment": "color,translation,cutout",
    }
)
PAIRED = {"loss/g_reconstruction", "loss/g_feature_matching"}


def _faces(seed=0, batch=2, size=16):
    return tf.constant(
        np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)), tf.float32
    )


def _params(rows):
    return tf.constant(rows, tf.float32)


# === DiffAugment ===


def test_augment_with_neutral_draws_changes_nothing_but_the_cutout_corner():
    x = _faces()
    np.testing.assert_allclose(
        augment(x, _params([IDENTITY] * 2), ("color", "translation")), x, atol=1e-6
    )
    cut = augment(x, _params([IDENTITY] * 2), ("cutout",)).numpy()
    # Centre 0 - side // 2 = -4: rows and columns [-4, 4) cut, i.e. the 4 x 4 top-left corner.
    assert (cut[:, :4, :4] == 0).all()
    np.testing.assert_array_equal(cut[:, 4:], x.numpy()[:, 4:])
    np.testing.assert_array_equal(cut[:, :4, 4:], x.numpy()[:, :4, 4:])


def test_color_golden_values():
    x = tf.constant([[[[0.2, -0.4, 0.5]]]], tf.float32)  # one pixel
    brighter = augment(x, _params([[0.75, 0.5, 0.5, 0.5, 0.5, 0, 0]]), ("color",)).numpy()
    np.testing.assert_allclose(brighter, x.numpy() + 0.25, atol=1e-6)
    grey = augment(x, _params([[0.5, 0.0, 0.5, 0.5, 0.5, 0, 0]]), ("color",)).numpy()
    np.testing.assert_allclose(grey, np.full_like(x.numpy(), np.mean([0.2, -0.4, 0.5])), atol=1e-6)
    x2 = tf.constant([[[[0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0]]]], tf.float32)  # mean 0.5
    flat = augment(x2, _params([[0.5, 0.5, 0.0, 0.5, 0.5, 0, 0]]), ("color",)).numpy()
    np.testing.assert_allclose(flat, [[[[0.25] * 3], [[0.75] * 3]]], atol=1e-6)  # contrast x0.5


def test_translation_shifts_whole_pixels_and_fills_with_zero():
    x = _faces(size=16)  # reach = round(16 / 8) = 2: shifts -2 .. 2
    shifted = augment(x, _params([[0.5, 0.5, 0.5, 0.99, 0.0, 0, 0]] * 2), ("translation",))
    shifted = shifted.numpy()
    # 2 rows down, 2 columns left.
    np.testing.assert_array_equal(shifted[:, 2:, :14], x.numpy()[:, :14, 2:])
    assert (shifted[:, :2] == 0).all() and (shifted[:, :, 14:] == 0).all()


def test_draws_next_to_one_stay_in_range_for_bfloat16_faces():
    """In bfloat16, 0.999 rounds to 1.0: the shift and the cutout must still be drawn from the
    float32 value (a shift past its reach read outside the padded face and failed the step)."""
    x = tf.cast(_faces(size=16), tf.bfloat16)
    edge = _params([[0.999] * PARAMS] * 2)
    y = augment(x, edge, ("color", "translation", "cutout"))
    assert y.dtype == tf.bfloat16 and np.isfinite(tf.cast(y, tf.float32).numpy()).all()
    shifted = tf.cast(augment(x, edge, ("translation",)), tf.float32).numpy()
    # The largest shift, 2 down and 2 right, as for float32 faces.
    assert (shifted[:, :2] == 0).all() and (shifted[:, :, :2] == 0).all()
    np.testing.assert_array_equal(shifted[:, 2:, 2:], tf.cast(x, tf.float32).numpy()[:, :14, :14])


def test_augment_passes_gradients_to_the_faces():
    x = _faces()
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = augment(x, tf.random.uniform([2, PARAMS], seed=1), ("color", "translation", "cutout"))
        total = tf.reduce_sum(y * y)
    gradient = tape.gradient(total, x).numpy()
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0


# === The reconstruction term and its pairing ===


def test_l1_distance_golden_values():
    a = tf.zeros([2, 2, 2, 1])
    b = tf.constant([[[[1.0], [-1.0]], [[0.5], [0.5]]], [[[0.0], [0.0]], [[0.0], [2.0]]]])
    np.testing.assert_allclose(losses.l1_distance(a, b), [0.75, 0.5])


def test_step_reports_the_masked_reconstruction_term():
    keras.utils.set_random_seed(2)
    gan = build_gan(CONFIG, NUM_CLASSES)
    batch = {k: v[0] for k, v in recipe_batches(1, BATCH).items()}
    # The generator's faces before the step, for the same normalised noisy embedding.
    from s2f_tf.models.voice_to_face import voice_embedding

    e = voice_embedding(gan.models.voice_encoder, batch["voice"])
    e = tf.math.l2_normalize(e + 0.05 * batch["noise"], axis=-1)
    fake = gan.models.generator(e).numpy()
    per_face = np.abs(fake - batch["voice_face"]).mean(axis=(1, 2, 3))
    expected = (per_face * batch["voice_face_found"]).sum() / BATCH
    metrics = gan(batch, BATCH)
    assert set(metrics) == set(gan.METRICS) | PAIRED
    assert abs(float(metrics["loss/g_reconstruction"]) - expected) <= 1e-5


def test_step_reports_the_masked_feature_matching_term():
    """Against f's activations computed here (f is not updated: its optimizer's rate is 0)."""
    from s2f_tf.models.voice_to_face import voice_embedding
    from s2f_tf.train.step import GANStep

    keras.utils.set_random_seed(2)
    models = build_models(CONFIG, NUM_CLASSES)
    frozen_d = adam(CONFIG.train.__class__(learning_rate=0.0))
    gan = GANStep.from_config(models, adam(CONFIG.train), frozen_d, CONFIG)
    gan.build_optimizers()
    batch = {k: v[0] for k, v in recipe_batches(1, BATCH).items()}
    e = voice_embedding(models.voice_encoder, batch["voice"])
    fake = models.generator(tf.math.l2_normalize(e + 0.05 * batch["noise"], axis=-1))
    draws = batch["augment"][:, STREAMS.index("generator")]
    policies = CONFIG.train.augmentations
    _, a = models.face_embedder.embed_with_features(augment(fake, draws, policies))
    _, b = models.face_embedder.embed_with_features(augment(batch["voice_face"], draws, policies))
    assert len(a) == len(CONFIG.model.face_channels)  # the stem and every stride-2 block
    per_face = sum(
        np.abs(x.numpy() - y.numpy()).mean(axis=(1, 2, 3)) for x, y in zip(a, b, strict=True)
    )
    expected = (per_face * batch["voice_face_found"]).sum() / BATCH
    metrics = gan(batch, BATCH)
    assert abs(float(metrics["loss/g_feature_matching"]) - expected) <= 1e-4 * max(1, expected)


def test_embed_with_features_is_the_same_computation_as_call():
    embedder = build_models(CONFIG, NUM_CLASSES).face_embedder
    x = _faces(size=64)
    embedding, _ = embedder.embed_with_features(x)
    np.testing.assert_allclose(embedding, embedder(x), atol=1e-6)


def _weights(models):
    return [v.numpy() for v in models.generator.weights + models.face_embedder.weights]


def _custom_loop(strategy, steps=3):
    keras.utils.set_random_seed(1)
    with strategy.scope():
        gan = build_gan(CONFIG, NUM_CLASSES)
    dataset = tf.data.Dataset.from_tensor_slices(recipe_batches(steps, BATCH))
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    step = make_distributed_step(strategy, gan, BATCH)
    return gan, [{k: float(v) for k, v in step(next(batches)).items()} for _ in range(steps)]


def test_recipe_step_is_exact_across_replica_counts():
    one, losses_one = _custom_loop(tf.distribute.OneDeviceStrategy("/cpu:0"))
    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    two, losses_two = _custom_loop(strategy)
    assert PAIRED <= set(losses_two[0])
    for a, b in zip(losses_one, losses_two, strict=True):
        for key in a:
            assert abs(a[key] - b[key]) <= 1e-5 * max(1.0, abs(a[key])), key
    for a, b in zip(_weights(one.models), _weights(two.models), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_fit_driver_trains_the_recipe_like_the_custom_loop():
    reference, _ = _custom_loop(tf.distribute.get_strategy())
    keras.utils.set_random_seed(1)
    models = build_models(CONFIG, NUM_CLASSES)
    gan = VoiceToFaceGAN.from_config(models, CONFIG)
    gan.compile(adam(CONFIG.train), adam(CONFIG.train))
    history = gan.fit(
        tf.data.Dataset.from_tensor_slices(recipe_batches(3, BATCH)), epochs=1, verbose=0
    )
    assert set(history.history) == set(reference.METRICS) | PAIRED
    for a, b in zip(_weights(reference.models), _weights(models), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_config_checks_the_options():
    assert CONFIG.train.augmentations == ("color", "translation", "cutout")
    assert preset("wen2019").train.augmentations == ()
    assert preset("wen2019").train.reconstruction_weight == 0
    with pytest.raises(ValueError, match="diff_augment takes a comma-separated subset"):
        CONFIG.replace(train={"diff_augment": "color,blur"})
    with pytest.raises(ValueError, match="reconstruction_weight must be >= 0"):
        CONFIG.replace(train={"reconstruction_weight": -1.0})
    with pytest.raises(ValueError, match="feature_matching_weight must be >= 0"):
        CONFIG.replace(train={"feature_matching_weight": -1.0})
    assert CONFIG.train.pairs_faces and not preset("wen2019").train.pairs_faces
    assert preset("hq128").train.pairs_faces and preset("tiny128").train.pairs_faces


def test_the_demo_preset_carries_the_measured_recipe():
    """The small preset (the demo's) draws with the choices of benchmarks/recipe_study.py's best variant;
    the reference stays the reference."""
    small, reference = preset("small"), preset("wen2019")
    assert small.model.generator_upsample == "resize" and small.model.spectral_norm
    assert small.train.learning_rate == 5e-4 and small.train.reconstruction_weight == 10.0
    assert small.train.augmentations == ("color", "translation", "cutout")
    assert small.train.pairs_faces and small.train.adversarial_loss == "bce"
    assert reference.model.generator_upsample == "transpose" and not reference.model.spectral_norm
    assert reference.train.learning_rate == 2e-4


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return prepare_small_corpus(tmp_path_factory.mktemp("recipe"), seed=6, identities=5, faces=3)


def test_face_table_gives_a_face_of_each_asked_identity(data_dir):
    info = load_info(data_dir)
    images, labels, _ = load_faces(data_dir, "train")
    table = FaceTable(images, labels, len(info.names("train")))
    assert (
        table.counts.sum() == info.split("train")["faces"]
        and len(table.images) == table.counts.sum()
    )
    labels = np.array([0, 1, 1, 0, len(table.counts)])  # the last label has no face
    faces, found = table.faces_of(labels, seed=(0, 5))
    np.testing.assert_array_equal(found, [1, 1, 1, 1, 0])
    assert (faces[-1] == 0).all()
    for face, label in zip(faces[:-1], labels[:-1], strict=True):
        own = table.images[table.starts[label] : table.starts[label] + table.counts[label]]
        assert any((face == x).all() for x in own)
    again, _ = table.faces_of(labels, seed=(0, 5))
    np.testing.assert_array_equal(faces, again)  # the seed fixes the choice
    with pytest.raises(S2FError, match="over the 0 MB that pairing voices with faces may hold"):
        FaceTable.check_size(info, "train", budget=100)
    FaceTable.check_size(info, "train")


def test_training_batches_pair_each_voice_with_a_face_of_its_identity(data_dir):
    config = CONFIG.replace(train={"flip_probability": 0.0})
    batch = next(iter(train_dataset(data_dir, config, 4, seed=0)))
    images, labels, _ = load_faces(data_dir, "train")
    table = FaceTable(images, labels, len(load_info(data_dir).names("train")))
    pixels = np.round(batch["voice_face"].numpy() * 127.5 + 127.5).astype(np.uint8)
    np.testing.assert_array_equal(batch["voice_face_found"], np.ones(4))
    for face, label in zip(pixels, batch["voice_label"].numpy(), strict=True):
        own = table.images[table.starts[label] : table.starts[label] + table.counts[label]]
        assert any((face == x).all() for x in own)
    plain = next(iter(train_dataset(data_dir, preset("tiny"), 4, seed=0)))
    assert "voice_face" not in plain  # the reference never pairs
