"""One frozen configuration tree for every stage, with named presets and a JSON round trip.

`preset("wen2019")` holds the reference sizes of Wen, Raj & Singh (NeurIPS 2019) and their official code
(see SPEC-wen2019.md); `"small"` is the demo that trains in minutes on two CPU cores; `"tiny"` is for tests.
The config is saved as `config.json` beside every checkpoint and export, and a resumed run compares it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from s2f_tf.errors import S2FError

CONFIG_FILE = "config.json"  # a Config as JSON, saved beside every checkpoint and export


@dataclasses.dataclass(frozen=True)
class AudioConfig:
    """The audio front end and voice-activity detection (SPEC "Audio front end")."""

    sample_rate: int = 16000  # Hz; everything is resampled to this.
    frame_length: int = 400  # samples per analysis frame (25 ms).
    frame_step: int = 160  # hop between frames (10 ms).
    fft_length: int = 1024  # power-of-two FFT size (513 bins).
    num_mel_bins: int = 64
    lower_edge_hertz: float = 20.0
    upper_edge_hertz: float = 7200.0
    preemphasis: float = 0.97  # applied per frame, carrying the previous frame's last raw sample.
    log_floor: float = 1e-5  # log(max(mel, floor)).
    vad_mode: int = 2  # webrtcvad aggressiveness.
    vad_frame_ms: int = 20
    vad_padding_ms: int = 50  # ring buffer length.
    vad_trigger: float = 0.9  # fraction of the ring that must be (un)voiced to switch state.
    train_min_frames: int = 300  # random crop length per batch, inclusive range (3-8 s).
    train_max_frames: int = 800
    min_utterance_frames: int = 800  # utterances shorter than this are not used for training.
    test_frames: int = 1000  # test recordings shorter than this are tiled up to it.

    @property
    def min_utterance_samples(self) -> int:
        return (self.min_utterance_frames - 1) * self.frame_step

    def num_frames(self, samples: int) -> int:
        """Frames the front end makes of `samples` samples: floor(samples / frame_step) + 1."""
        return samples // self.frame_step + 1

    @property
    def num_fft_bins(self) -> int:
        return self.fft_length // 2 + 1


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Network widths; the layer stacks are built by loops over these tuples."""

    embedding_dim: int = 64  # voice embedding = generator input = face embedding width.
    voice_channels: tuple[int, ...] = (256, 384, 576, 864)  # Conv1d k3 s2 + BN + ReLU blocks.
    generator_channels: tuple[int, ...] = (1024, 512, 256, 128, 64)  # 4x4 seed, then x2 each.
    face_channels: tuple[int, ...] = (32, 64, 128, 256, 512)  # 1x1 stem, then /2 each.
    image_size: int = 64
    batchnorm_momentum: float = 0.9  # = PyTorch momentum 0.1.
    batchnorm_epsilon: float = 1e-5  # PyTorch default.
    leaky_relu_slope: float = 0.2


FEATURES_ON = ("auto", "pipeline", "device")  # TrainConfig.features_on


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """GAN training (SPEC "Training")."""

    batch_size: int = 128  # voices per step; the same number of faces.
    steps: int = 50_000
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    epsilon: float = 1e-8  # PyTorch Adam default.
    embedding_noise: float = 0.05  # e = normalize(e + noise * N(0, 1)).
    flip_probability: float = 0.5
    # Momentum of an exponential moving average of the generator's weights, which evaluation and export
    # then use (Keras Adam use_ema). 0 = off, as in the reference; not part of the recipe.
    generator_ema: float = 0.0
    checkpoint_every: int = 1000
    log_every: int = 50
    image_every: int = 1000
    # Where training crops become log-mel features: "pipeline" (tf.data, on the CPU), "device" (tf.data
    # yields int16 waveform crops and the training step featurises the batch on the accelerator: the
    # input pipeline's CPU cost per batch drops ~20x) or "auto" (device when a GPU is present).
    features_on: str = "auto"
    mixed_precision: bool = False  # "mixed_bfloat16" compute when True.
    jit_compile: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.features_on not in FEATURES_ON:
            raise ValueError(
                f"train.features_on must be one of {', '.join(FEATURES_ON)}, got {self.features_on!r}"
            )


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """Voice encoder pretraining as a speaker classifier (plain cross-entropy)."""

    batch_size: int = 128
    steps: int = 20_000
    learning_rate: float = 1e-3
    checkpoint_every: int = 1000
    log_every: int = 50
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class Config:
    name: str = "wen2019"
    audio: AudioConfig = AudioConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    pretrain: PretrainConfig = PretrainConfig()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        return _from_dict(cls, data)

    @classmethod
    def from_json(cls, text: str) -> Config:
        return cls.from_dict(json.loads(text))

    def replace(self, **sections: Any) -> Config:
        """Copy with whole sections or fields of sections replaced: `replace(train={"steps": 10})`."""
        updates = {}
        for key, value in sections.items():
            current = getattr(self, key)
            if isinstance(value, dict) and dataclasses.is_dataclass(current):
                value = dataclasses.replace(current, **value)
            updates[key] = value
        return dataclasses.replace(self, **updates)


def _from_dict(cls, data: dict[str, Any]):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    kwargs = {}
    for name, value in data.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            value = _from_dict(type(default), value)
        elif isinstance(default, tuple):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def _small() -> Config:
    return Config(
        name="small",
        audio=AudioConfig(
            train_min_frames=100, train_max_frames=300, min_utterance_frames=300, test_frames=400
        ),
        model=ModelConfig(
            voice_channels=(64, 96, 128, 192),
            generator_channels=(256, 128, 64, 32, 16),
            face_channels=(16, 32, 64, 128, 256),
        ),
        train=TrainConfig(  # 6,000 steps: ~10 min on 2 AMX cores in mixed_bfloat16 (the demo's default)
            batch_size=32,
            steps=6000,
            generator_ema=0.999,  # evaluate/export the averaged generator (see RESULTS-matching.md)
            checkpoint_every=250,
            log_every=25,
            image_every=500,
        ),
        pretrain=PretrainConfig(batch_size=32, steps=1600, checkpoint_every=200, log_every=25),
    )


def _tiny() -> Config:
    return Config(
        name="tiny",
        audio=AudioConfig(
            train_min_frames=20, train_max_frames=40, min_utterance_frames=40, test_frames=60
        ),
        model=ModelConfig(
            voice_channels=(8, 8, 16, 16),
            generator_channels=(16, 16, 8, 8, 8),
            face_channels=(4, 8, 8, 16, 16),
        ),
        train=TrainConfig(batch_size=4, steps=4, checkpoint_every=2, log_every=1, image_every=2),
        pretrain=PretrainConfig(batch_size=4, steps=4, checkpoint_every=2, log_every=1),
    )


_PRESETS = {"wen2019": Config, "small": _small, "tiny": _tiny}
PRESETS = tuple(_PRESETS)


class UnknownPreset(S2FError, ValueError):
    """A preset name that `PRESETS` does not hold (the command line shows it as one line)."""


def preset(name: str) -> Config:
    """The named configuration: "wen2019" (reference sizes), "small" (demo) or "tiny" (tests).

    Raises:
        UnknownPreset: (a ValueError) naming the presets there are.
    """
    try:
        return _PRESETS[name]()
    except KeyError:
        raise UnknownPreset(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None
