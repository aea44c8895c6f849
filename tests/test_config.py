"""Config presets, the JSON round trip, replace() and strict parsing."""

import dataclasses
import json

import pytest

from s2f_tf.config import PRESETS, AudioConfig, Config, ModelConfig, preset


def test_preset_names():
    assert tuple(PRESETS) == ("wen2019", "small", "hq128", "tiny", "tiny128")
    for name in PRESETS:
        config = preset(name)
        assert isinstance(config, Config) and config.name == name
        assert PRESETS[name]() == config  # a mapping of names to fresh configs
    assert preset("wen2019") == Config()
    with pytest.raises(TypeError):
        PRESETS["mine"] = Config  # read only


def test_unknown_preset_is_an_error():
    with pytest.raises(
        ValueError, match=r"unknown preset 'nope'; choose from wen2019, small, hq128, tiny, tiny128"
    ):
        preset("nope")


def test_wen2019_holds_the_reference_numbers():
    config = preset("wen2019")
    a, m, t = config.audio, config.model, config.train
    assert (a.sample_rate, a.frame_length, a.frame_step, a.fft_length) == (16000, 400, 160, 1024)
    assert (a.num_mel_bins, a.lower_edge_hertz, a.upper_edge_hertz) == (64, 20.0, 7200.0)
    assert (a.preemphasis, a.log_floor, a.num_fft_bins) == (0.97, 1e-5, 513)
    assert (a.train_min_frames, a.train_max_frames, a.test_frames) == (300, 800, 1000)
    assert m.voice_channels == (256, 384, 576, 864)
    assert m.generator_channels == (1024, 512, 256, 128, 64)
    assert m.face_channels == (32, 64, 128, 256, 512)
    assert (m.embedding_dim, m.batchnorm_momentum, m.batchnorm_epsilon, m.leaky_relu_slope) == (
        64,
        0.9,
        1e-5,
        0.2,
    )
    assert (t.batch_size, t.steps, t.learning_rate, t.beta_1, t.beta_2, t.epsilon) == (
        128,
        50_000,
        2e-4,
        0.5,
        0.999,
        1e-8,
    )
    assert t.embedding_noise == 0.05 and t.flip_probability == 0.5
    # Nothing beyond the recipe: transposed convolutions, no spectral norm, BCE, no R1, no average.
    assert (m.image_size, m.generator_upsample, m.spectral_norm) == (64, "transpose", False)
    assert (t.adversarial_loss, t.r1_gamma, t.generator_ema) == ("bce", 0.0, 0.0)
    assert t.generator_ema_warmup is False


def test_hq128_goes_beyond_the_recipe_at_128_px():
    hq, small = preset("hq128"), preset("small")
    m, t = hq.model, hq.train
    assert m.image_size == 128 and len(m.generator_channels) == len(m.face_channels) == 6
    assert (m.generator_upsample, m.spectral_norm) == ("resize", True)
    assert (t.adversarial_loss, t.r1_gamma, t.generator_ema) == ("hinge", 0.0, 0.999)
    # small's training recipe at 128 px (benchmarks/hq128_study.py), in 2,000 steps.
    assert t.generator_ema_warmup is True and small.train.generator_ema_warmup is True
    assert (t.learning_rate, t.reconstruction_weight, t.diff_augment) == (
        small.train.learning_rate,
        small.train.reconstruction_weight,
        small.train.diff_augment,
    )
    assert (t.steps, small.train.steps) == (2000, 1500)
    # The same voice side as the demo: its pretrained encoder serves both.
    assert hq.audio == small.audio and m.voice_channels == small.model.voice_channels
    assert hq.pretrain == small.pretrain
    tiny128 = preset("tiny128")  # the tests' 128-px path: tiny sizes, hq128's choices
    assert tiny128.model.image_size == 128 and tiny128.audio == preset("tiny").audio
    assert (tiny128.model.generator_upsample, tiny128.train.adversarial_loss) == ("resize", "hinge")
    assert tiny128.train.r1_gamma == 1.0  # the R1 code path, tested on the tiny sizes
    assert tiny128.train.pairs_faces and tiny128.train.augmentations == t.augmentations


def test_model_config_checks_sizes_and_choices():
    with pytest.raises(ValueError, match=r"generator_channels has 6 entries, which make 128 px"):
        ModelConfig(generator_channels=(8,) * 6, face_channels=(8,) * 6)
    with pytest.raises(ValueError, match=r"face_channels has 5 entries, which make 64 px"):
        ModelConfig(generator_channels=(8,) * 6, image_size=128)
    with pytest.raises(ValueError, match=r"generator_upsample must be one of transpose, resize"):
        ModelConfig(generator_upsample="pixel_shuffle")
    with pytest.raises(ValueError, match=r"adversarial_loss must be one of bce, hinge"):
        preset("tiny").replace(train={"adversarial_loss": "wasserstein"})


def test_presets_shrink():
    sizes = [sum(preset(name).model.voice_channels) for name in ("wen2019", "small", "tiny")]
    assert sizes[0] > sizes[1] > sizes[2]
    assert preset("tiny").train.batch_size < preset("small").train.batch_size < 128


@pytest.mark.parametrize("name", PRESETS)
def test_json_round_trip(name):
    config = preset(name)
    text = config.to_json()
    data = json.loads(text)
    assert set(data) == {"name", "audio", "model", "train", "pretrain"}
    assert isinstance(data["model"]["voice_channels"], list)
    restored = Config.from_json(text)
    assert restored == config
    assert isinstance(restored.model.voice_channels, tuple)  # tuples survive JSON lists.
    assert isinstance(restored.audio, AudioConfig)
    assert restored.to_json() == text
    assert Config.from_dict(config.to_dict()) == config


def test_partial_json_uses_defaults():
    restored = Config.from_json(json.dumps({"name": "mine", "train": {"steps": 7}}))
    assert restored.name == "mine" and restored.train.steps == 7
    assert restored.model == ModelConfig() and restored.train.batch_size == 128


def test_replace():
    config = preset("tiny")
    changed = config.replace(train={"steps": 10, "seed": 3}, name="tiny2")
    assert changed.train.steps == 10 and changed.train.seed == 3 and changed.name == "tiny2"
    assert changed.train.batch_size == config.train.batch_size
    assert changed.model == config.model and changed.audio == config.audio
    assert config.train.steps == 4  # the original is untouched.
    whole = config.replace(model=ModelConfig())
    assert whole.model == ModelConfig()
    with pytest.raises(TypeError):
        config.replace(train={"no_such_field": 1})


def test_frozen():
    config = preset("tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.name = "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.steps = 1


def test_from_json_rejects_unknown_fields():
    data = preset("tiny").to_dict()
    data["colour"] = "red"
    with pytest.raises(ValueError, match=r"unknown Config fields: \['colour'\]"):
        Config.from_dict(data)
    data = preset("tiny").to_dict()
    data["train"]["stepz"] = 3
    with pytest.raises(ValueError, match=r"unknown TrainConfig fields: \['stepz'\]"):
        Config.from_json(json.dumps(data))
