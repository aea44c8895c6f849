"""The reference networks: shapes, exact parameter counts, config round trips, PyTorch padding, BN, linear G."""

import keras
import numpy as np
import pytest
from model_test_case import run_layer_test, run_model_saving_test, run_serialization_test

from s2f_tf.config import preset
from s2f_tf.models import VoiceEncoder, build_models
from s2f_tf.models.voice_to_face import VoiceToFace


def count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def expected_counts(config, num_classes):
    """Trainable parameters of docs/recipe.md's networks, counted by hand from the config's widths."""
    m = config.model
    voice, previous = 0, config.audio.num_mel_bins
    for width in m.voice_channels:  # Conv1d k3 (no bias) + BN gamma/beta.
        voice += 3 * previous * width + 2 * width
        previous = width
    voice += 3 * previous * m.embedding_dim + m.embedding_dim
    generator, previous = 0, m.embedding_dim
    for width in m.generator_channels:  # ConvTranspose2d k4 with bias.
        generator += 16 * previous * width + width
        previous = width
    generator += previous * 3 + 3
    face = 3 * m.face_channels[0] + m.face_channels[0]
    for previous, width in zip(m.face_channels, m.face_channels[1:], strict=False):
        face += 16 * previous * width + width
    face += 16 * m.face_channels[-1] * m.embedding_dim + m.embedding_dim
    return {
        "voice_encoder": voice,
        "generator": generator,
        "face_embedder": face,
        "discriminator": m.embedding_dim,
        "classifier": m.embedding_dim * num_classes,
    }


@pytest.fixture(scope="module")
def tiny_models():
    keras.utils.set_random_seed(0)
    return build_models(preset("tiny"), num_classes=5)


def test_wen2019_parameter_counts_are_the_reference():
    config = preset("wen2019")
    models = build_models(config, num_classes=924)
    trainable = {
        name: count(getattr(models, name).trainable_weights)
        for name in expected_counts(config, 924)
    }
    assert trainable == {
        "voice_encoder": 2_670_720,
        "generator": 12_191_875,
        "face_embedder": 3_310_720,
        "discriminator": 64,
        "classifier": 64 * 924,
    }
    assert trainable == expected_counts(config, 924)
    assert count(models.voice_encoder.non_trainable_weights) == 4_160  # BN moving mean + variance.
    assert count(models.generator.non_trainable_weights) == 0
    assert count(models.face_embedder.non_trainable_weights) == 0
    assert models.discriminator.use_bias is False and models.classifier.use_bias is False
    bn = [
        layer
        for layer in models.voice_encoder.blocks
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert [layer.momentum for layer in bn] == [0.9] * 4 and [layer.epsilon for layer in bn] == [
        1e-5
    ] * 4


def test_tiny_parameter_counts(tiny_models):
    config = preset("tiny")
    for name, expected in expected_counts(config, 5).items():
        assert count(getattr(tiny_models, name).trainable_weights) == expected, name


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("frames", [1, 2, 7, 40, 41, 300, 301])
def test_voice_encoder_shapes(tiny_models, batch, frames):
    features = np.random.default_rng(frames).standard_normal((batch, frames, 64)).astype(np.float32)
    embedding = tiny_models.voice_encoder(features, training=False)
    assert tuple(embedding.shape) == (batch, 64)
    assert np.isfinite(embedding.numpy()).all()


def test_voice_encoder_time_lengths(tiny_models):
    """Each k3/s2/p1 conv maps T to floor((T - 1) / 2) + 1, as PyTorch does."""
    x = np.zeros((1, 301, 64), np.float32)
    lengths = []
    for layer in tiny_models.voice_encoder.blocks:
        x = layer(x, training=False)
        if isinstance(layer, keras.layers.Conv1D):
            lengths.append(x.shape[1])
    assert lengths == [151, 76, 38, 19, 10]


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_generator_and_face_shapes(tiny_models, batch):
    rng = np.random.default_rng(batch)
    faces = tiny_models.generator(rng.standard_normal((batch, 64)).astype(np.float32))
    assert tuple(faces.shape) == (batch, 64, 64, 3)
    embedding = tiny_models.face_embedder(faces)
    assert tuple(embedding.shape) == (batch, 64)
    assert tuple(tiny_models.discriminator(embedding).shape) == (batch, 1)
    assert tuple(tiny_models.classifier(embedding).shape) == (batch, 5)


MODEL_INPUTS = {  # every model of the package and an input for it
    "voice_encoder": (2, 50, 64),
    "generator": (2, 64),
    "face_embedder": (2, 64, 64, 3),
}


def _input(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("name", MODEL_INPUTS)
def test_serialization(tiny_models, name):
    run_serialization_test(getattr(tiny_models, name), _input(MODEL_INPUTS[name]))


@pytest.mark.parametrize("name", MODEL_INPUTS)
def test_saving(tiny_models, name, tmp_path):
    run_model_saving_test(getattr(tiny_models, name), _input(MODEL_INPUTS[name]), tmp_path)


def test_voice_to_face_serialization_and_saving(tiny_models, tmp_path):
    config = preset("tiny")
    model = VoiceToFace(tiny_models.voice_encoder, tiny_models.generator, config.audio)
    waveform = 0.1 * _input((1, 4000))
    run_layer_test(model.tiling, _input((1, 7, 64)), (1, config.audio.test_frames, 64))
    run_serialization_test(model, waveform)
    run_model_saving_test(model, waveform, tmp_path)


def test_config_widths_are_used():
    encoder = VoiceEncoder(channels=(8, 12), embedding_dim=16, batchnorm_epsilon=1e-3)
    encoder.build((None, None, 64))
    convs = [layer for layer in encoder.blocks if isinstance(layer, keras.layers.Conv1D)]
    assert [c.filters for c in convs] == [8, 12, 16]
    assert tuple(encoder(np.zeros((1, 9, 64), np.float32)).shape) == (1, 16)


def test_voice_encoder_pads_like_pytorch(tiny_models):
    """PyTorch Conv1d(k3, s2, p1) on an even length pads one zero on each side (Keras "same": 0 and 1)."""
    encoder = tiny_models.voice_encoder
    pad, conv = encoder.blocks[0], encoder.blocks[1]
    assert isinstance(pad, keras.layers.ZeroPadding1D) and isinstance(conv, keras.layers.Conv1D)
    x = np.random.default_rng(2).standard_normal((2, 10, 64)).astype(np.float32)
    kernel = conv.kernel.numpy()  # [3, in, out]
    padded = np.pad(x, [(0, 0), (1, 1), (0, 0)])
    expected = np.stack(
        [np.einsum("bki,kio->bo", padded[:, 2 * t : 2 * t + 3], kernel) for t in range(5)], axis=1
    )
    got = conv(pad(x)).numpy()
    assert got.shape == (2, 5, kernel.shape[-1])
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    same = keras.layers.Conv1D(kernel.shape[-1], 3, strides=2, padding="same", use_bias=False)
    same.build(x.shape)
    same.kernel.assign(kernel)
    assert (
        np.abs(same(x).numpy() - expected).max() > 1e-3
    )  # the test can tell the two paddings apart.


def test_face_embedder_pads_like_pytorch(tiny_models):
    """Conv2d(k4, s2, p1) on 64x64: one zero row/column on each side, output 32x32."""
    embedder = tiny_models.face_embedder
    stem, act, pad, conv = embedder.blocks[:4]
    x = np.random.default_rng(3).standard_normal((1, 64, 64, 3)).astype(np.float32)
    h = act(stem(x)).numpy()
    kernel, bias = conv.kernel.numpy(), conv.bias.numpy()  # [4, 4, in, out]
    padded = np.pad(h, [(0, 0), (1, 1), (1, 1), (0, 0)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, (4, 4), axis=(1, 2))[:, ::2, ::2]
    expected = np.einsum("bxyiuv,uvio->bxyo", windows, kernel) + bias
    got = conv(pad(h)).numpy()
    assert got.shape == expected.shape == (1, 32, 32, kernel.shape[-1])
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_generator_upsampling_matches_pytorch_transposed_conv(tiny_models):
    """ConvTranspose2d(k4, s2, p1): scatter each input pixel through the kernel, crop one pixel per side."""
    generator = tiny_models.generator
    deconv = generator.blocks[2]
    assert isinstance(deconv, keras.layers.Conv2DTranspose) and deconv.strides == (2, 2)
    kernel, bias = deconv.kernel.numpy(), deconv.bias.numpy()  # [4, 4, out, in]
    x = np.random.default_rng(4).standard_normal((1, 4, 4, kernel.shape[-1])).astype(np.float32)
    full = np.zeros((1, 10, 10, kernel.shape[2]))
    for i in range(4):
        for j in range(4):
            full[:, 2 * i : 2 * i + 4, 2 * j : 2 * j + 4] += np.einsum(
                "bc,uvoc->buvo", x[:, i, j], kernel
            )
    expected = full[:, 1:-1, 1:-1] + bias
    got = deconv(x).numpy()
    assert got.shape == expected.shape == (1, 8, 8, kernel.shape[2])
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_generator_output_is_linear(tiny_models):
    generator = tiny_models.generator
    assert generator.blocks[-1].activation is keras.activations.linear
    embedding = 100.0 * np.random.default_rng(5).standard_normal((4, 64)).astype(np.float32)
    faces = generator(embedding).numpy()
    assert np.abs(faces).max() > 1.5  # no tanh / clipping inside the model.
    assert faces.min() < -1.0 and faces.max() > 1.0


def test_voice_encoder_inference_uses_moving_statistics():
    keras.utils.set_random_seed(1)
    encoder = VoiceEncoder(channels=(8, 16), embedding_dim=16)
    encoder.build((None, None, 64))
    rng = np.random.default_rng(6)
    batch = (3.0 + 2.0 * rng.standard_normal((4, 30, 64))).astype(np.float32)
    for _ in range(3):  # move the statistics away from their (0, 1) initial values.
        encoder(batch, training=True)
    bn = encoder.blocks[2]
    assert np.abs(bn.moving_mean.numpy()).max() > 0.1

    x = batch[:1]
    alone = encoder(x, training=False).numpy()
    with_others = encoder(np.concatenate([x, batch[1:]]), training=False).numpy()[:1]
    with_zeros = encoder(np.concatenate([x, np.zeros_like(batch[1:])]), training=False).numpy()[:1]
    np.testing.assert_allclose(with_others, alone, atol=1e-5, rtol=0)
    np.testing.assert_allclose(with_zeros, alone, atol=1e-5, rtol=0)
    # The default call is inference mode.
    np.testing.assert_allclose(encoder(x).numpy(), alone, atol=1e-6, rtol=0)
    # In training mode BN uses the batch statistics, so the same example's output depends on its batch.
    train_a = encoder(np.concatenate([x, batch[1:]]), training=True).numpy()[:1]
    train_b = encoder(np.concatenate([x, np.zeros_like(batch[1:])]), training=True).numpy()[:1]
    assert np.abs(train_a - train_b).max() > 1e-3
