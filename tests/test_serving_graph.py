"""s2f_tf.serving.graph: the exported graph computes what the Keras VoiceToFace computes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from s2f_tf.config import preset
from s2f_tf.models import build_generator, build_voice_encoder
from s2f_tf.models.voice_to_face import VoiceToFace
from s2f_tf.serving.checks import check_clips
from s2f_tf.serving.graph import (
    MatmulEncoder,
    PhaseGenerator,
    phase_kernel,
    phase_upsample,
    serving_graph,
)


@pytest.mark.parametrize("size, cin, cout", [(1, 3, 2), (4, 16, 8), (7, 5, 6)])
def test_phase_convolution_equals_the_transposed_convolution(size, cin, cout):
    keras.utils.set_random_seed(size)
    layer = keras.layers.Conv2DTranspose(cout, 4, strides=2, padding="same")
    x = np.random.default_rng(size).standard_normal([2, size, size, cin]).astype(np.float32)
    want = tf.nn.relu(layer(x) + 0.5).numpy()  # + 0.5: some outputs positive, some clipped
    kernel = phase_kernel(layer.kernel.numpy())
    assert kernel.shape == (2, 2, cin, 4 * cout)
    # The 16 taps of each (in, out) pair appear once each, spread over the four phase groups.
    np.testing.assert_array_equal(
        np.sort(kernel.reshape(4, cin, 4, cout).transpose(1, 3, 0, 2).reshape(cin, cout, 16), -1),
        np.sort(layer.kernel.numpy().transpose(3, 2, 0, 1).reshape(cin, cout, 16), -1),
    )
    bias = np.tile(layer.bias.numpy() + 0.5, 4)
    got = phase_upsample(tf.constant(x), kernel.reshape(4 * cin, 4 * cout), bias, cout).numpy()
    assert got.shape == want.shape == (2, 2 * size, 2 * size, cout)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_phase_generator_equals_the_generator(name):
    # the reference's transposed convolutions at the preset's sizes (small upsamples by resize since 2026-12)
    config = preset(name).replace(model={"generator_upsample": "transpose"})
    keras.utils.set_random_seed(3)
    generator = build_generator(config)
    fast = PhaseGenerator(generator)
    embedding = tf.math.l2_normalize(tf.random.normal([3, config.model.embedding_dim]), -1)
    want = generator(embedding).numpy()
    got = fast(embedding).numpy()
    assert got.shape == want.shape == (3, 64, 64, 3)
    scale = np.abs(want).max()
    assert scale > 0
    np.testing.assert_allclose(got, want, atol=1e-5 * max(scale, 1.0), rtol=0)

    # The same kernel weights, rearranged: a 4x4 transposed convolution = 4 phases of 2x2 taps.
    def kernels(layer):
        return sum(int(np.prod(w.shape)) for w in layer.weights if "kernel" in w.path)

    assert kernels(fast) == kernels(generator)
    assert not fast.trainable_weights


def test_phase_generator_refuses_other_generators():
    config = preset("hq128")
    with pytest.raises(ValueError, match="upsample='transpose'"):
        PhaseGenerator(build_generator(config))


def randomise_batchnorm(encoder, seed=0):
    """Statistics and affine terms away from their initial values, so that folding them is tested."""
    rng = np.random.default_rng(seed)
    for block in encoder.blocks:
        if isinstance(block, keras.layers.BatchNormalization):
            n = block.gamma.shape[0]
            block.gamma.assign(rng.uniform(0.5, 1.5, n))
            block.beta.assign(rng.normal(0.0, 0.3, n))
            block.moving_mean.assign(rng.normal(0.0, 0.3, n))
            block.moving_variance.assign(rng.uniform(0.5, 2.0, n))


@pytest.mark.parametrize("name", ["tiny", "wen2019"])
def test_matmul_encoder_equals_the_encoder(name):
    config = preset(name)
    keras.utils.set_random_seed(4)
    encoder = build_voice_encoder(config)
    randomise_batchnorm(encoder)
    fast = MatmulEncoder(encoder)
    for frames in (1, 2, 3, 10, 1000, 1001):
        features = tf.random.normal([2, frames, config.audio.num_mel_bins])
        want = encoder(features, training=False).numpy()
        got = fast(features).numpy()
        assert got.shape == want.shape == (2, config.model.embedding_dim)
        np.testing.assert_allclose(got, want, atol=2e-5 * max(1.0, np.abs(want).max()), rtol=0)
    assert not fast.trainable_weights


@pytest.fixture(scope="module")
def tiny_model():
    config = preset("tiny")
    keras.utils.set_random_seed(5)
    generator = build_generator(config)
    to_rgb = generator.blocks[-1]
    to_rgb.kernel.assign(to_rgb.kernel * 300.0)  # faces with contrast (a random tiny one is flat)
    encoder = build_voice_encoder(config)
    randomise_batchnorm(encoder, seed=1)
    model = VoiceToFace(encoder, generator, config.audio)
    model(np.zeros([1, 1600], np.float32))
    return model


@pytest.mark.parametrize("dft", ["fft", "matmul"])
def test_serving_graph_matches_the_keras_model(tiny_model, dft):
    graph = serving_graph(tiny_model, dft=dft)
    assert isinstance(graph.generator, PhaseGenerator) and graph.frontend.dft == dft
    assert isinstance(graph.voice_encoder, MatmulEncoder)
    assert serving_graph(tiny_model, encoder="keras").voice_encoder is tiny_model.voice_encoder
    for clip in check_clips(16000, (1, 200, 8000, 48000)):
        want = tiny_model(clip[None])
        got = graph(clip[None])
        assert np.abs(want["face_float"]).max() > 0.1 or len(clip) == 1
        np.testing.assert_allclose(got["face_float"], want["face_float"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(got["embedding"], want["embedding"], atol=1e-5, rtol=0)
        assert np.abs(got["face"].numpy().astype(int) - want["face"].numpy()).max() <= 1


def test_serving_graph_keeps_a_resize_generator():
    config = preset("hq128")
    model = VoiceToFace(build_voice_encoder(config), build_generator(config), config.audio)
    graph = serving_graph(model)
    assert graph.generator is model.generator
    with pytest.raises(ValueError, match="generator="):
        serving_graph(model, generator="fast")
    with pytest.raises(ValueError, match="encoder="):
        serving_graph(model, encoder="fast")
