"""LogMelSpectrogram against the float64 per-frame reference (docs/recipe.md, front-end steps 2-7), in Keras and in LiteRT."""

import json

import keras
import numpy as np
import pytest
import scipy.signal
import tensorflow as tf
from reference_frontend import reference_logmel, reference_mel_filters

from s2f_tf.config import AudioConfig
from s2f_tf.frontend import LogMelSpectrogram, dft_matrices, mel_filterbank

SAMPLE_RATE = 16000
LOG_FLOOR = np.log(1e-5)
TOLERANCE = 1e-3  # max abs difference on normalised features.
CLIPPED_TOLERANCE = 1e-2  # only in mel bins where the reference clips some frame at the 1e-5 floor.
# 16000 and 4800 are multiples of 160: their last frame starts at the end and is all zeros.
LENGTHS = [0, 1, 100, 399, 400, 401, 560, 4800, 16000]


def speech_like(n, seed=0):
    """A voiced-speech stand-in: harmonics of a vibrato f0, a syllable-rate envelope, a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SAMPLE_RATE
    f0 = 140.0 + 20.0 * np.sin(2 * np.pi * 5.0 * t)  # 5 Hz vibrato.
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = 0.5 * (1.0 - np.cos(2 * np.pi * 3.0 * t)) + 0.05  # ~3 syllables per second.
    x = 0.2 * envelope * voice + 0.003 * rng.standard_normal(n)
    return (np.round(np.clip(x, -1.0, 1.0) * 32767.0) / 32768.0).astype(np.float32)  # int16 grid.


def speech_with_gap(n, seed=0):
    """Speech-like with digital silence in its middle third: frames there clip at the log floor."""
    x = speech_like(n, seed)
    x[n // 3 : 2 * n // 3] = 0.0
    return x


def chirp(n, seed=0):
    t = np.arange(n) / SAMPLE_RATE
    return (0.5 * scipy.signal.chirp(t, f0=50.0, t1=1.0, f1=7500.0, method="logarithmic")).astype(
        np.float32
    )


def white_noise(n, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


SIGNALS = {
    "speech_like": speech_like,
    "speech_with_gap": speech_with_gap,
    "chirp": chirp,
    "white_noise": white_noise,
}


def assert_matches_reference(features, waveform):
    """features [frames, 64] from the layer vs the float64 reference on int16-scale samples."""
    samples = np.asarray(waveform, np.float64) * 32768.0
    expected = reference_logmel(samples)
    assert features.shape == expected.shape == (len(waveform) // 160 + 1, 64)
    assert features.dtype == np.float32
    error = np.abs(features.astype(np.float64) - expected)
    clipped_bins = (reference_logmel(samples, normalize=False) <= LOG_FLOOR).any(axis=0)
    assert error[:, ~clipped_bins].max(initial=0.0) <= TOLERANCE
    assert error[:, clipped_bins].max(initial=0.0) <= CLIPPED_TOLERANCE
    return error.max()


@pytest.fixture(scope="module")
def layer():
    return LogMelSpectrogram()


@pytest.fixture(scope="module")
def dynamic(layer):
    """The layer traced once for unknown batch and length."""
    return tf.function(layer.call, input_signature=[tf.TensorSpec([None, None], tf.float32)])


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_matches_float64_reference(layer, signal, length):
    waveform = SIGNALS[signal](length)
    features = layer(waveform[None]).numpy()[0]
    assert_matches_reference(features, waveform)


@pytest.fixture(scope="module")
def matmul_layer():
    return LogMelSpectrogram(dft="matmul")


@pytest.mark.parametrize("length", LENGTHS + [20 * SAMPLE_RATE])
@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_matmul_dft_matches_float64_reference(matmul_layer, layer, signal, length):
    """The DFT as matrix products (pre-emphasis and window inside): the same tolerances as the FFT."""
    waveform = SIGNALS[signal](length)
    features = matmul_layer(waveform[None]).numpy()[0]
    assert_matches_reference(features, waveform)
    fft = layer(waveform[None]).numpy()[0]
    assert np.abs(features - fft).max() <= 5e-4


def test_dft_matrices_give_the_power_spectrum():
    audio = AudioConfig()
    cosines, sines, filters = dft_matrices(audio)
    bins = np.arange(2, 461)  # where the 64 filters are non-zero
    assert cosines.shape == sines.shape == (200, len(bins)) and filters.shape == (len(bins), 64)
    frame = np.random.default_rng(0).standard_normal(400)  # (pre-emphasised) frame
    first, last = frame[:200], frame[:199:-1]
    power = ((first + last) @ cosines) ** 2 + ((first - last) @ sines) ** 2
    spectrum = np.fft.rfft(frame * np.hamming(400), 1024)[bins]
    np.testing.assert_allclose(power, np.abs(spectrum) ** 2, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(filters, mel_filterbank(audio)[bins])
    with pytest.raises(ValueError, match="even frame_length"):
        dft_matrices(AudioConfig(frame_length=401))


def test_unknown_dft_is_refused():
    with pytest.raises(ValueError, match="dft="):
        LogMelSpectrogram(dft="wavelet")


def test_long_speech_matches_reference_and_is_finite(dynamic):
    waveform = speech_like(20 * SAMPLE_RATE, seed=3)  # 20 s.
    features = dynamic(waveform[None]).numpy()[0]
    assert features.shape == (2001, 64)
    assert np.isfinite(features).all()
    assert_matches_reference(features, waveform)


@pytest.mark.parametrize("length", [0, 1, 100, 16000])
def test_silence_is_finite_and_zero_after_normalisation(layer, length):
    features = layer(np.zeros([2, length], np.float32)).numpy()
    assert features.shape == (2, length // 160 + 1, 64)
    # Every mel value is clipped to the same floor, so mean subtraction leaves exact zeros.
    np.testing.assert_array_equal(features, 0.0)
    unnormalised = LogMelSpectrogram(normalize=False)(np.zeros([1, length], np.float32)).numpy()
    np.testing.assert_allclose(unnormalised, LOG_FLOOR, rtol=1e-6)


def test_unknown_batch_and_length(dynamic):
    for batch, length in [(1, 0), (1, 1), (3, 399), (2, 401), (4, 1601)]:
        waveforms = np.stack(
            [white_noise(length, seed=batch * 10 + i) for i in range(batch)]
        ).reshape(batch, length)
        features = dynamic(tf.constant(waveforms)).numpy()
        assert features.shape == (batch, length // 160 + 1, 64)
        assert np.isfinite(features).all()
        for i in range(batch):
            assert_matches_reference(features[i], waveforms[i])
    assert len(dynamic._list_all_concrete_functions()) == 1  # one trace served every shape.


def test_batch_equals_examples(layer):
    length = 8000
    waveforms = np.stack(
        [
            speech_like(length, 1),
            chirp(length),
            white_noise(length, 2),
            np.zeros(length, np.float32),
        ]
    )
    batched = layer(waveforms).numpy()
    for i, waveform in enumerate(waveforms):
        single = layer(waveform[None]).numpy()[0]
        np.testing.assert_allclose(batched[i], single, atol=1e-5, rtol=0)


def test_frame_count_and_output_shape(layer):
    for length in [0, 159, 160, 161, 16000, 16159]:
        assert layer.compute_output_shape((3, length)) == (3, length // 160 + 1, 64)
    assert layer.compute_output_shape((None, None)) == (None, None, 64)


def test_config_round_trip_gives_identical_output():
    audio = AudioConfig(num_mel_bins=40, upper_edge_hertz=7000.0)
    original = LogMelSpectrogram(audio=audio, normalize=False, name="front")
    config = original.get_config()
    json.dumps(config)  # JSON-serialisable as saved in .keras files.
    assert config["normalize"] is False
    assert config["audio"]["num_mel_bins"] == 40

    assert config["dft"] == "fft"
    restored = LogMelSpectrogram.from_config(config)
    assert restored.audio == audio and restored.normalize is False and restored.name == "front"
    assert LogMelSpectrogram.from_config(dict(config, dft="matmul")).dft == "matmul"
    again = keras.layers.deserialize(keras.layers.serialize(original))
    assert isinstance(again, LogMelSpectrogram) and again.audio == audio

    waveform = speech_like(5000)[None]
    expected = original(waveform).numpy()
    assert expected.shape == (1, 32, 40)
    np.testing.assert_array_equal(restored(waveform).numpy(), expected)
    np.testing.assert_array_equal(again(waveform).numpy(), expected)


def test_default_config_round_trip(layer):
    restored = LogMelSpectrogram.from_config(layer.get_config())
    assert restored.audio == AudioConfig() and restored.normalize is True
    waveform = chirp(3000)[None]
    np.testing.assert_array_equal(restored(waveform).numpy(), layer(waveform).numpy())


def test_mel_filterbank_matches_reference():
    filters = mel_filterbank(AudioConfig())
    expected = reference_mel_filters()
    assert filters.shape == expected.shape == (513, 64)
    np.testing.assert_allclose(filters, expected, rtol=1e-12, atol=0)

    # Edges from the spec: 66 points evenly spaced in HTK mel over 20..7200 Hz, rounded to 15.625 Hz bins.
    mel = np.linspace(2595 * np.log10(1 + 20 / 700), 2595 * np.log10(1 + 7200 / 700), 66)
    edges = np.round(700 * (10 ** (mel / 2595) - 1) / 15.625).astype(int)
    assert edges[0] == 1 and edges[-1] == 461
    for m in range(64):
        left, center, right = edges[m : m + 3]
        column = filters[:, m]
        peak = 2.0 / ((right - left) * 15.625)
        assert column.max() == pytest.approx(peak, rel=1e-12)
        assert column[center] == pytest.approx(peak, rel=1e-12)
        support = np.flatnonzero(column)
        assert support.min() >= left and support.max() <= right
        assert column[:left].sum() == 0 and column[right:].sum() == 0
    # Area normalised: the sampled triangle sums to (right - left) / 2 peaks, i.e. unit area in Hz.
    np.testing.assert_allclose(filters.sum(axis=0) * 15.625, 1.0, rtol=1e-12)


def test_stays_float32_under_mixed_precision():
    waveform = speech_like(4000)[None]
    expected = LogMelSpectrogram()(waveform).numpy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = LogMelSpectrogram()
        assert layer.dtype_policy.name == "float32"
        assert layer.compute_dtype == "float32"
        features = layer(tf.constant(waveform))
        assert features.dtype == tf.float32
        np.testing.assert_array_equal(features.numpy(), expected)
        # A bfloat16 input (as a mixed-precision model would pass) is cast up, not computed in bf16.
        from_bf16 = layer(tf.cast(waveform, tf.bfloat16)).numpy()
        assert from_bf16.dtype == np.float32
        assert np.abs(from_bf16 - expected).max() < 0.5
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert keras.mixed_precision.global_policy().name == "float32"


# --- TFLite / LiteRT ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tflite_model(layer):
    """The layer converted with builtin ops only (a Flex op would make the conversion fail)."""
    serve = tf.function(layer.call, input_signature=[tf.TensorSpec([1, None], tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], layer
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def run_litert(interpreter, waveform):
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], list(waveform.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], waveform)
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])


def test_tflite_has_builtin_ops_only(tflite_model):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite_model)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "RFFT2D" in ops
    assert not any(name.startswith("Flex") or name == "CUSTOM" for name in ops), ops
    (inp,) = interpreter.get_input_details()
    assert list(inp["shape_signature"]) == [1, -1]


def test_tflite_matmul_dft_has_no_fft_and_matches_keras(matmul_layer):
    from ai_edge_litert.interpreter import Interpreter

    serve = tf.function(matmul_layer.call, input_signature=[tf.TensorSpec([1, None], tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], matmul_layer
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "FULLY_CONNECTED" in ops and not {"RFFT2D", "REAL", "IMAG", "COMPLEX_ABS"} & ops
    for length in [0, 1, 399, 401, 16001]:
        waveform = speech_like(length)[None]
        got = run_litert(interpreter, waveform)
        np.testing.assert_allclose(got, matmul_layer(waveform).numpy(), atol=1e-4, rtol=0)


def test_tflite_matches_keras(layer, tflite_model):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite_model)
    # LiteRT takes a zero-length input (the layer pads in the graph), so 0 is tested too.
    for length in [0, 1, 100, 399, 400, 401, 560, 4800, 16000, 16001]:
        for make in (speech_like, white_noise):
            waveform = make(length)[None]
            expected = layer(waveform).numpy()
            got = run_litert(interpreter, waveform)
            assert got.shape == expected.shape == (1, length // 160 + 1, 64)
            assert np.isfinite(got).all()
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
