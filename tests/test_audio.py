"""s2f_tf.audio: decoding (formats, rates, channels, bad files) and the webrtcvad segmentation."""

import numpy as np
import pytest
import soundfile

from s2f_tf.audio import AudioFileError, load_audio, to_int16, voiced
from s2f_tf.config import AudioConfig
from s2f_tf.errors import S2FError
from s2f_tf.synth.voices import Recording, VoiceTraits, synthesize

SR = 16000


def _tone(seconds, rate=SR, freq=440.0, amplitude=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    "rate,subtype,channels",
    [
        (16000, "PCM_16", 1),
        (16000, "PCM_24", 1),
        (16000, "FLOAT", 1),
        (16000, "PCM_16", 2),
        (8000, "PCM_16", 1),
        (44100, "PCM_16", 1),
    ],
)
def test_load_audio_converts_to_16k_mono_float(tmp_path, rate, subtype, channels):
    tone = _tone(0.5, rate)
    data = np.stack([tone, tone], axis=1) if channels == 2 else tone
    path = tmp_path / "x.wav"
    soundfile.write(path, data, rate, subtype=subtype)
    samples = load_audio(path, SR)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - SR // 2) <= 2
    reference = _tone(0.5, SR)
    # Away from the edges the resampled / downmixed signal is the same 440 Hz tone.
    np.testing.assert_allclose(samples[800:-800], reference[800 : len(samples) - 800], atol=2e-3)


def test_load_audio_flac(tmp_path):
    path = tmp_path / "x.flac"
    soundfile.write(path, _tone(0.25), SR, subtype="PCM_16")
    assert len(load_audio(path)) == SR // 4


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"this is not audio\n", "unreadable"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", "unreadable"),
        (None, "missing"),
    ],
)
def test_load_audio_bad_files_raise_one_line(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioFileError) as error:
        load_audio(path)
    assert error.value.reason == reason
    assert isinstance(error.value, S2FError) and "\n" not in str(error.value)


def test_load_audio_nan_and_empty(tmp_path):
    data = _tone(0.1)
    data[100] = np.nan
    soundfile.write(tmp_path / "nan.wav", data, SR, subtype="FLOAT")
    with pytest.raises(AudioFileError) as error:
        load_audio(tmp_path / "nan.wav")
    assert error.value.reason == "non_finite"
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, np.float32), SR, subtype="PCM_16")
    with pytest.raises(AudioFileError) as error:
        load_audio(tmp_path / "empty.wav")
    assert error.value.reason == "empty"


def test_to_int16_rounds_and_clips():
    values = to_int16(np.array([0.0, 0.5, -1.0, 1.0, 2.0, 1 / 32768 * 0.6]))
    np.testing.assert_array_equal(values, [0, 16384, -32768, 32767, 32767, 1])
    assert values.dtype == np.int16


def test_vad_keeps_a_burst_in_silence_and_drops_quiet_noise():
    signal = np.zeros(4 * SR, np.float32)
    signal[SR : 3 * SR] = _tone(2.0)
    kept = voiced(signal)
    assert kept.dtype == np.int16
    # The 2 s burst plus at most the ring buffer of padding on each side (20 ms frames, 50 ms ring).
    assert 1.9 * SR <= len(kept) <= 2.2 * SR
    noise = np.random.default_rng(0).normal(0.0, 1e-4, 4 * SR).astype(np.float32)
    assert len(voiced(noise)) == 0
    assert len(voiced(np.zeros(4 * SR, np.int16))) == 0


def test_vad_on_synthetic_speech_removes_leading_and_trailing_silence():
    rng = np.random.default_rng(3)
    wave = synthesize(VoiceTraits(), Recording(seconds=3.0, lead=1.0, trail=1.0, snr_db=25), rng)
    kept = voiced(wave, AudioConfig())
    assert len(kept) % 320 == 0  # whole 20 ms frames
    assert 2.5 * SR <= len(kept) <= len(wave) - 1.5 * SR
