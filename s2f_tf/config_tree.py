"""The configuration tree: frozen dataclasses for the audio front end, the networks, training and
pretraining, under one `Config` with a JSON round trip (`to_json` / `from_json`) and `replace`.

The defaults are the reference sizes (`preset("wen2019")`); the named presets are in `s2f_tf.presets`, and
`s2f_tf.config` offers both.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

CONFIG_FILE = "config.json"  # a Config as JSON, saved beside every checkpoint and export


@dataclasses.dataclass(frozen=True)
class AudioConfig:
    """The audio front end and voice-activity detection (docs/recipe.md "Audio front end")."""

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
    image_size: int = (
        64  # = 4 * 2 ** (len(generator_channels) - 1) = 4 * 2 ** (len(face_channels) - 1)
    )
    # How the generator doubles its size: "transpose" (ConvTranspose k4 s2, the reference) or "resize"
    # (nearest-neighbour x2, then Conv k3 s1: no checkerboard; Odena et al. 2016, "Deconvolution and
    # Checkerboard Artifacts").
    generator_upsample: str = "transpose"
    # Spectral normalisation (Miyato et al. 2018) of the face embedder's convolutions, which the
    # discriminator and the classifier share: one power iteration per training call.
    spectral_norm: bool = False
    batchnorm_momentum: float = 0.9  # = PyTorch momentum 0.1.
    batchnorm_epsilon: float = 1e-5  # PyTorch default.
    leaky_relu_slope: float = 0.2

    def __post_init__(self):
        if self.generator_upsample not in UPSAMPLE:
            raise ValueError(
                f"model.generator_upsample must be one of {', '.join(UPSAMPLE)},"
                f" got {self.generator_upsample!r}"
            )
        for field in ("generator_channels", "face_channels"):
            size = 4 * 2 ** (len(getattr(self, field)) - 1)
            if size != self.image_size:
                raise ValueError(
                    f"model.{field} has {len(getattr(self, field))} entries, which make {size} px"
                    f" faces, but model.image_size is {self.image_size}"
                )


UPSAMPLE = ("transpose", "resize")  # ModelConfig.generator_upsample
ADVERSARIAL_LOSSES = ("bce", "hinge")  # TrainConfig.adversarial_loss
FEATURES_ON = ("auto", "pipeline", "device")  # TrainConfig.features_on
AUGMENTATIONS = ("color", "translation", "cutout")  # TrainConfig.diff_augment


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """GAN training (docs/recipe.md "Losses and one training iteration")."""

    batch_size: int = 128  # voices per step; the same number of faces.
    steps: int = 50_000  # the released gan_train.py loop (docs/recipe.md, "The schedule")
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    epsilon: float = 1e-8  # PyTorch Adam default.
    embedding_noise: float = 0.05  # e = normalize(e + noise * N(0, 1)).
    flip_probability: float = 0.5
    # Momentum of an exponential moving average of the generator's weights, which evaluation and export
    # then use (Keras Adam use_ema). 0 = off, as in the reference; not part of the recipe.
    generator_ema: float = 0.0
    # Ramp the average's momentum up: min(generator_ema, (1 + t) / (10 + t)) at update t, as
    # tf.train.ExponentialMovingAverage(num_updates=t) does, so that a short run's average does not keep
    # generator_ema ** t of the random initial weights (models/optimizers.py `Adam`).
    generator_ema_warmup: bool = False
    # The adversarial terms: "bce" (the reference's non-saturating BCE) or "hinge" (Lim & Ye 2017;
    # Miyato et al. 2018). The identity terms are the same for both.
    adversarial_loss: str = "bce"
    # R1 penalty (Mescheder et al. 2018): r1_gamma / 2 * E ||d/dx d(f(x))||^2 on real faces, added to
    # the discriminator's loss. 0 = off, as in the reference.
    r1_gamma: float = 0.0
    # Weight of an L1 term pairing each generated face with a real face of its voice's identity (another
    # photo each step), added to the generator's loss: pix2pix's L1 beside its GAN loss (Isola et al.
    # 2017); SF2F (Bai et al. 2022) weighs it 10 against BCE 1. 0 = off, as in the reference, which never
    # pairs a voice with a face.
    reconstruction_weight: float = 0.0
    # Weight of a feature-matching term between each generated face and that same real face: the mean
    # L1 distance of the face embedder's activations after each block, summed over the blocks (the
    # discriminator as a perceptual metric; SF2F weighs its perceptual term 100). 0 = off (the reference).
    feature_matching_weight: float = 0.0
    # Differentiable augmentation of every face the face embedder sees, real and generated, in both
    # updates (DiffAugment, Zhao et al. 2020): a comma-separated subset of AUGMENTATIONS. "" = off.
    diff_augment: str = ""
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
        if self.adversarial_loss not in ADVERSARIAL_LOSSES:
            raise ValueError(
                f"train.adversarial_loss must be one of {', '.join(ADVERSARIAL_LOSSES)},"
                f" got {self.adversarial_loss!r}"
            )
        if self.features_on not in FEATURES_ON:
            raise ValueError(
                f"train.features_on must be one of {', '.join(FEATURES_ON)}, got {self.features_on!r}"
            )
        unknown = [a for a in self.augmentations if a not in AUGMENTATIONS]
        if unknown:
            raise ValueError(
                f"train.diff_augment takes a comma-separated subset of {', '.join(AUGMENTATIONS)},"
                f" got {self.diff_augment!r}"
            )
        for field in ("reconstruction_weight", "feature_matching_weight"):
            if getattr(self, field) < 0:
                raise ValueError(f"train.{field} must be >= 0, got {getattr(self, field)}")

    @property
    def pairs_faces(self) -> bool:
        """Whether training pairs each voice with a real face of its identity (the pipeline's
        "voice_face")."""
        return bool(self.reconstruction_weight or self.feature_matching_weight)

    @property
    def augmentations(self) -> tuple[str, ...]:
        """The DiffAugment policies of `diff_augment`, in the order given."""
        return tuple(a.strip() for a in self.diff_augment.split(",") if a.strip())


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
