"""The documented Python API runs as written: README's "Python API" code and the names of the public
surface (shared/API.md), each called the way the documentation shows."""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(markdown: str, section: str) -> list[str]:
    """The ```python blocks of the `## section` of a markdown text."""
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"README has no '## {section}' section"
    return re.findall(r"^```python\n(.*?)^```", match.group(1), re.M | re.S)


def test_readme_python_api_runs_as_written():
    blocks = python_blocks(README.read_text(encoding="utf-8"), "Python API")
    assert blocks, "README's Python API section has no python code"
    for block in blocks:
        namespace = {}
        exec(compile(block, "README.md (Python API)", "exec"), namespace)
    # What the README's comments promise of its example.
    assert namespace["features"].shape == (1, 301, 64)
    assert namespace["embedding"].shape == (1, 64)
    assert namespace["faces"].shape == (1, 64, 64, 3)


def test_api_config_and_presets():
    from s2f_tf.config import PRESETS, Config, preset

    assert {"wen2019", "small", "tiny"} <= set(PRESETS)
    for name in PRESETS:
        config = preset(name)
        assert Config.from_json(config.to_json()) == config
    assert preset("tiny").train.features_on in ("pipeline", "device", "auto")
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        preset("nope")


def test_api_frontend_frames():
    from s2f_tf.frontend import LogMelSpectrogram

    waveform = np.zeros([2, 16000 + 80], np.float32)
    features = LogMelSpectrogram()(waveform)
    assert features.shape == (2, (16000 + 80) // 160 + 1, 64)
    assert features.dtype == "float32"


def test_api_build_models():
    from s2f_tf.config import preset
    from s2f_tf.models import build_models

    config = preset("tiny")
    models = build_models(config, num_classes=3)
    embedding = models.voice_encoder(np.zeros([2, 50, 64], np.float32))
    assert embedding.shape == (2, 64)
    assert models.generator(embedding).shape == (2, 64, 64, 3)
    for name in ("face_embedder", "discriminator", "classifier"):
        assert getattr(models, name).built


def test_api_from_torch_signature():
    import inspect

    from s2f_tf.convert import from_torch

    assert list(inspect.signature(from_torch).parameters) == [
        "voice_path",
        "generator_path",
        "config",
    ]


def test_readme_seed_table_is_the_committed_run():
    """README's Table 2 excerpt shows the numbers of docs/seed_tables.md (the committed output of `s2f demo
    --seed-tables`): each (model, voices) row's FD, L1 and cosine, to the digits shown."""
    docs = (README.parent / "docs" / "seed_tables.md").read_text()
    unseen = docs[docs.index("### Unseen identities") : docs.index("### Training identities")]
    committed = {}
    for row in re.findall(r"^\| (general|female|male) \| (\w+) voices \|(.*)$", unseen, re.M):
        cells = [c.strip() for c in row[2].split("|")]
        committed[(row[0], row[1])] = [float(c) for c in cells[3:6]]  # FD, L1, cosine
    shown = {}
    for row in re.findall(
        r"^\| (general|female|male) \| (\w+) voices \(\d+\) \|(.*)$", README.read_text(), re.M
    ):
        cells = [c.strip() for c in row[2].split("|")]
        shown[(row[0], row[1])] = [float(c.replace(",", "")) for c in cells[:3]]
    assert len(committed) == 5 and shown.keys() == committed.keys()
    for key, (fd, l1, cosine) in shown.items():
        want_fd, want_l1, want_cosine = committed[key]
        assert abs(fd - want_fd) <= 0.005 * want_fd, key  # docs print FD with 3 significant digits
        assert (l1, cosine) == (want_l1, want_cosine), key
