"""train.features_on="device": waveform crops from tf.data, featurised by the training step.

Both drivers (custom loop, fit) and pretraining must train exactly as with features from the pipeline,
on one and on two replicas.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import prepare_small_corpus

from s2f_tf.config import preset
from s2f_tf.data import pipeline
from s2f_tf.data.info import load_info
from s2f_tf.models import build_models
from s2f_tf.models.optimizers import adam
from s2f_tf.train.builder import build_gan
from s2f_tf.train.data import gan_dataset_fn
from s2f_tf.train.distribute import make_strategy
from s2f_tf.train.gan_model import VoiceToFaceGAN
from s2f_tf.train.loop import make_distributed_step
from s2f_tf.train.pretrain import pretrain_voice

CONFIG = preset("tiny").replace(train={"batch_size": 4}, pretrain={"batch_size": 4})
STEPS = 2


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(prepare_small_corpus(tmp_path_factory.mktemp("features_on"), seed=4))


@pytest.fixture(autouse=True)
def streamed(monkeypatch):
    """Pipeline features streamed (not cached): then both modes read the same records and windows."""
    monkeypatch.setattr(pipeline, "FEATURE_CACHE_BYTES", 0)


def _config(mode):
    return CONFIG.replace(train={"features_on": mode})


def _strategy(replicas):
    return make_strategy("mirrored") if replicas == 2 else tf.distribute.OneDeviceStrategy("/cpu:0")


def _weights(models):
    return [v.numpy() for v in models.generator.weights + models.face_embedder.weights]


def _custom_loop(data_dir, config, strategy, num_classes):
    keras.utils.set_random_seed(1)
    with strategy.scope():
        gan = build_gan(config, num_classes)
    gan.initial_weights = _weights(gan.models)
    dataset_fn = gan_dataset_fn(data_dir, config)
    batches = iter(strategy.distribute_datasets_from_function(lambda c: dataset_fn(c)))
    step = make_distributed_step(strategy, gan, config.train.batch_size)

    keys, losses = set(), []
    for _ in range(STEPS):
        batch = next(batches)
        keys |= set(batch)
        losses.append({k: float(v) for k, v in step(batch).items()})
    return gan, keys, losses


@pytest.mark.parametrize("replicas", [1, 2])
def test_custom_loop_trains_the_same_with_features_on_the_device(data_dir, replicas):
    num_classes = load_info(data_dir).num_classes
    runs = {
        mode: _custom_loop(data_dir, _config(mode), _strategy(replicas), num_classes)
        for mode in ("pipeline", "device")
    }
    (on_cpu, cpu_keys, cpu_losses), (on_device, device_keys, device_losses) = runs.values()
    assert "voice" in cpu_keys and "voice_wave" not in cpu_keys
    assert "voice_wave" in device_keys and "voice" not in device_keys
    for a, b in zip(cpu_losses, device_losses, strict=True):
        assert set(a) == set(b)
        for key in a:
            assert abs(a[key] - b[key]) <= 1e-4, key
    moved = zip(_weights(on_device.models), on_device.initial_weights, strict=True)
    assert max(np.abs(w - w0).max() for w, w0 in moved) > 1e-6
    for a, b in zip(_weights(on_cpu.models), _weights(on_device.models), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_fit_driver_featurises_device_batches(data_dir):
    config = _config("device")
    num_classes = load_info(data_dir).num_classes
    strategy = tf.distribute.get_strategy()
    reference, _, _ = _custom_loop(data_dir, config, strategy, num_classes)
    keras.utils.set_random_seed(1)
    with strategy.scope():
        models = build_models(config, num_classes)
        gan = VoiceToFaceGAN(models, audio=config.audio)
        gan.compile(adam(config.train), adam(config.train))
    dataset = gan_dataset_fn(data_dir, config)(tf.distribute.InputContext())
    gan.fit(dataset, steps_per_epoch=STEPS, epochs=1, verbose=0)
    for a, b in zip(_weights(reference.models), _weights(models), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_pretraining_featurises_device_batches(data_dir, tmp_path):
    from s2f_tf.train.pretrain import SpeakerClassifier, _as_pairs

    info = load_info(data_dir)
    pairs = {
        mode: next(iter(_as_pairs(pipeline.voice_dataset(data_dir, _config(mode), 4, seed=0))))
        for mode in ("pipeline", "device")
    }
    assert isinstance(pairs["device"][0], dict) and "voice_wave" in pairs["device"][0]
    np.testing.assert_array_equal(pairs["pipeline"][1].numpy(), pairs["device"][1].numpy())
    encoder = build_models(CONFIG, info.num_classes).voice_encoder
    classifier = SpeakerClassifier(encoder, info.num_classes, audio=CONFIG.audio)
    classifier.build((None, None, 64))
    for training in (False, True):
        np.testing.assert_allclose(
            classifier(pairs["device"][0], training=training).numpy(),
            classifier(pairs["pipeline"][0], training=training).numpy(),
            atol=1e-5,
        )
    config = _config("device").replace(pretrain={"steps": STEPS})
    summary = pretrain_voice(
        config,
        tmp_path,
        pipeline.voice_dataset(data_dir, config, 4, seed=0),
        pipeline.eval_voices(data_dir, config, "train_heldout"),
        info.num_classes,
        progress=False,
    )
    assert summary["steps"] == STEPS and np.isfinite(summary["train"]["loss"])
    assert 0.0 <= summary["heldout_top1"] <= 1.0 and summary["heldout_utterances"] > 0


@pytest.mark.parametrize("command", ["train", "pretrain-voice"])
def test_features_on_flag_reaches_the_config(command, tmp_path):
    from s2f_tf.cli import build_parser
    from s2f_tf.commands.common import resolve_config

    parser = build_parser()
    base = [command, "--data", "d", "--workdir", str(tmp_path), "--preset", "tiny"]
    section = "train" if command == "train" else "pretrain"
    args = parser.parse_args([*base, "--features-on", "device"])
    assert resolve_config(args, section).train.features_on == "device"
    assert resolve_config(parser.parse_args(base), section).train.features_on == "auto"
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--features-on", "gpu"])
    with pytest.raises(ValueError, match="features_on"):
        CONFIG.replace(train={"features_on": "gpu"})
