"""One frozen configuration tree for every stage, with named presets and a JSON round trip.

`preset("wen2019")` holds the reference sizes of Wen, Raj & Singh (NeurIPS 2019) and their official code
(see docs/recipe.md); `"small"` is the demo that trains in minutes on two CPU cores; `"hq128"` goes beyond
the recipe (128 x 128 faces, see benchmarks/RESULTS-quality.md); `"tiny"` and `"tiny128"` (tiny sizes,
hq128's choices) are for tests.
The config is saved as `config.json` beside every checkpoint and export, and a resumed run compares it.
The tree is defined in `s2f_tf.config_tree`, the presets in `s2f_tf.presets`; both are offered here.
"""

from __future__ import annotations

from s2f_tf.config_tree import (
    ADVERSARIAL_LOSSES,
    AUGMENTATIONS,
    CONFIG_FILE,
    FEATURES_ON,
    UPSAMPLE,
    AudioConfig,
    Config,
    ModelConfig,
    PretrainConfig,
    TrainConfig,
)
from s2f_tf.presets import PRESETS, UnknownPreset, preset

__all__ = [
    "ADVERSARIAL_LOSSES",
    "AUGMENTATIONS",
    "CONFIG_FILE",
    "FEATURES_ON",
    "PRESETS",
    "UPSAMPLE",
    "AudioConfig",
    "Config",
    "ModelConfig",
    "PretrainConfig",
    "TrainConfig",
    "UnknownPreset",
    "preset",
]
