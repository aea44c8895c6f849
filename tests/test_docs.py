"""The documentation holds: README's "Python API" code runs as written, the public names it and the guides
under docs/ use are called the way they show, the figures it quotes are the committed runs', and no text
file of the repository speaks of a tracker or of the sessions that wrote it."""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
EVALUATION = README.parent / "docs" / "evaluation.md"


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
    """docs/evaluation.md's Table 2 excerpt shows the numbers of docs/seed_tables.md (the committed output
    of `s2f demo --seed-tables`): each (model, voices) row's FD, L1 and cosine, to the digits shown."""
    docs = (README.parent / "docs" / "seed_tables.md").read_text()
    unseen = docs[docs.index("### Unseen identities") : docs.index("### Training identities")]
    committed = {}
    for row in re.findall(r"^\| (general|female|male) \| (\w+) voices \|(.*)$", unseen, re.M):
        cells = [c.strip() for c in row[2].split("|")]
        committed[(row[0], row[1])] = [float(c) for c in cells[3:6]]  # FD, L1, cosine
    shown = {}
    for row in re.findall(
        r"^\| (general|female|male) \| (\w+) voices \(\d+\) \|(.*)$", EVALUATION.read_text(), re.M
    ):
        cells = [c.strip() for c in row[2].split("|")]
        shown[(row[0], row[1])] = [float(c.replace(",", "")) for c in cells[:3]]
    assert len(committed) == 5 and shown.keys() == committed.keys()
    for key, (fd, l1, cosine) in shown.items():
        want_fd, want_l1, want_cosine = committed[key]
        assert abs(fd - want_fd) <= 0.005 * want_fd, key  # docs print FD with 3 significant digits
        assert (l1, cosine) == (want_l1, want_cosine), key


# === The repository speaks of itself alone ===

ROOT = README.parent
# Wording that only a reader of the project's tracker or of its work log could follow: numbered
# issues, sessions and rounds, and "the issue" as if the reader had it at hand.
TRACKER_WORDING = re.compile(
    r"""\bissue[-\s]*\#?\d+
    | \bsessions?[-\s]+\#?\d+
    | \(session\s+\d
    | \b(?:first|second|third|previous|last|next|earlier|later|another|other)\s+sessions?\b
    | \bsession'?s\s+(?:corpus|run|runs|table|defaults)\b
    | \bround[-\s]+(?:one|two|three|four|five|\d+)\b
    | \bthe\s+[A-Za-z0-9-]+\s+issue\b
    | \bthe\s+issue'?s?\b(?!\s+(?:of|with|that|where))
    """,
    re.I | re.X,
)
# Documents that live outside the repository and must not be pointed at.
OUTSIDE_DOCUMENTS = re.compile(
    r"SPEC-wen2019|TF-NOTES|SPEC (?:step|steps|\")|shared/API\.md|\.\./shared/"
)
# Files whose wording is settled elsewhere: (path, why).
NOT_SCANNED: dict[str, str] = {}  # file -> why it is not scanned


def tracked_text_files():
    """(path relative to the root, text) of every file git tracks that decodes as UTF-8."""
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    if not listed:
        pytest.skip("not a git checkout")
    for name in listed.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file() or name in NOT_SCANNED:
            continue
        try:
            yield name, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # pictures and other binaries


def test_no_tracker_or_session_wording():
    found = [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)!r}"
        for name, text in tracked_text_files()
        if name != "tests/test_docs.py"
        for match in TRACKER_WORDING.finditer(text)
    ]
    assert not found, "say what is meant instead of naming a tracker item:\n" + "\n".join(found)


def test_tracker_wording_pattern():
    for bad in ("see issue 5", "Issue-17 study", "(session 3: 6,000 steps)", "session 7's run",
                "on the first session's corpus", "round-three fixes", "the CPU issue",
                "the issue's figures"):  # fmt: skip
        assert TRACKER_WORDING.search(bad), bad
    for fine in ("the session loader", "run once per pytest session", "--rounds 20",
                 "a JSON round trip", "per round at low load", "a known issue with XLA"):  # fmt: skip
        assert not TRACKER_WORDING.search(fine), fine


def test_no_pointer_to_documents_outside_the_repository():
    found = [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)!r}"
        for name, text in tracked_text_files()
        if name != "tests/test_docs.py"
        for match in OUTSIDE_DOCUMENTS.finditer(text)
    ]
    assert not found, "point at docs/recipe.md (or another file in the repository):\n" + "\n".join(
        found
    )


def test_markdown_links_resolve():
    """Every relative link of README.md and docs/*.md names a file that exists (and, with a #fragment
    into a Markdown file, a heading it has)."""
    missing = []
    for path in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            file, _, fragment = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            if not linked.exists():
                missing.append(f"{path.name}: {target}")
            elif fragment and linked.suffix == ".md" and fragment not in _anchors(linked):
                missing.append(f"{path.name}: {target} (no such heading)")
    assert not missing, "\n".join(missing)


def _anchors(path):
    """GitHub's anchors of a Markdown file's headings."""
    anchors = set()
    for heading in re.findall(r"^#+ (.*)$", path.read_text(encoding="utf-8"), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_readme_is_a_front_page():
    """The README stays short and reaches, in one click, how to train on VoxCeleb, serve with TF
    Serving, deploy with LiteRT and reproduce each published figure."""
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    for link in (
        "docs/training.md#train-on-voxceleb1-and-vggface1",
        "docs/serving-and-devices.md#tensorflow-serving",
        "docs/serving-and-devices.md#litert-the-tflite-files-on-a-device",
        "docs/results.md#the-published-figures-and-their-commands",
        "docs/recipe.md",
    ):
        assert f"]({link})" in text, link
