"""Every `s2f` command line the README and the guides under docs/ show, run as a user runs it.

The command lines are read from the fenced code blocks of README.md and docs/**/*.md (`documented`), so
a guide added or split off keeps being read. `RUNS` says how each one runs here: the same command and
flags, in a temporary folder that holds small stand-ins at the documented input paths (a tiny synthetic
corpus as `VoxCeleb1/wav` and `vggface_64`, tiny PyTorch weights as `pretrained/*.pth`, a short
recording as `my_voice.wav`), with the tiny preset and a few steps where the documented sizes would take
hours. Each runs as its own `s2f` process; its exit status and the JSON summary on the last line of
standard output are checked. A documented command line without an entry in `RUNS` fails
`test_every_documented_command_line_has_a_run`, naming the file and line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import TINY_DEMO, s2f_process

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^\s*(```|~~~)")
LISTING = re.compile(
    r"^\s*s2f [a-z-]+ {2,}[^\s-]"
)  # a table of commands: `s2f synth    synthetic...`
MENTIONS_S2F = re.compile(r"(^|[\s;&|/])s2f\s")
SEPARATORS = {"&&", "||", ";", "|", "&"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# What a successful run may print on standard error: progress bars and the app's own notes.
EXPECTED = re.compile(r"^(.*\d+%\|.*|s2f app: .*)$")


def documents() -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _code_lines(text: str):
    """(line number, line) of the fenced code blocks of a Markdown text, continuation lines (`\\`)
    joined and numbered by their first line."""
    fenced, pending, start = False, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced, pending = not fenced, ""
            continue
        if not fenced:
            continue
        start = start if pending else number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield start, pending + line
        pending = ""


def _s2f_commands(line: str):
    """The `s2f` commands of one shell line, each as its normalised text: environment assignments,
    then `s2f` (whatever path it was called by, e.g. `.venv/bin/s2f`) and its arguments, joined with
    `shlex.join`; comments, other commands and `&&`/`|`/`;` chains left out."""
    if LISTING.match(line) or not MENTIONS_S2F.search(line):
        return
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split, lexer.commenters = True, "#"
    current = []
    for token in [*lexer, ";"]:
        if token not in SEPARATORS:
            current.append(token)
            continue
        env = []
        while current and ASSIGNMENT.match(current[0]):
            env.append(current.pop(0))
        if current and (current[0] == "s2f" or current[0].endswith("/s2f")):
            yield shlex.join([*env, "s2f", *current[1:]])
        current = []


@dataclasses.dataclass(frozen=True)
class Documented:
    where: str  # "README.md:102"
    text: str  # the normalised command line (`_s2f_commands`)


def documented(paths=None) -> list[Documented]:
    """Every `s2f` command line in the code blocks of `paths` (default: `documents()`)."""
    found = []
    for path in paths or documents():
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        for number, line in _code_lines(path.read_text(encoding="utf-8")):
            found += [Documented(f"{name}:{number}", text) for text in _s2f_commands(line)]
    return found


# === How each documented command line runs here ===


@dataclasses.dataclass(frozen=True)
class Run:
    """How one documented command line runs: `argv` (after `s2f`) in the folder of its `group` (the
    runs of a group share it, in the order below), then `check(summary, folder)`.

    `why` says what differs from the documented line. `workers=2` runs it as the two workers of a
    cluster on loopback ports (TF_CONFIG made here); `server` stops it with SIGINT once it serves.
    """

    group: str
    argv: str
    check: Callable[[dict, Path], None]
    why: str = "as documented"
    workers: int = 0
    server: bool = False


def _expect(**values):
    def check(summary, folder):
        for key, value in values.items():
            assert summary[key] == value, (key, summary[key])

    return check


def _exists(*paths):
    def check(summary, folder):
        for path in paths:
            assert (folder / path).exists(), path

    return check


def _both(*checks):
    def check(summary, folder):
        for one in checks:
            one(summary, folder)

    return check


def _prepared(summary, folder):
    assert summary["shards"]["reused"] == 0 and summary["shards"]["written"] > 0
    assert summary["identities"]["train"] > 0 and summary["utterances"]["train"] > 0


TINY_TRAINING = "the tiny preset and 2 steps (wen2019 sizes train for hours)"
RUNS = {
    # README, first lines: the demo, then the app on its export (also in docs/serving-and-devices.md).
    "s2f demo --out demo_out": Run(
        "demo",
        TINY_DEMO,  # run once per session by conftest.tiny_demo, which test_demo goes on with
        _both(
            _exists("demo_out/faces_heldout.png", "savedmodels/s2f_demo/1/saved_model.pb"),
            _expect(skipped=[]),
        ),  # fmt: skip
        why="a tiny corpus, preset and schedule (the default demo takes 11 minutes)",
    ),
    "s2f app --model savedmodels/s2f_demo --gallery demo_out/data": Run(
        "demo",
        "app --model savedmodels/s2f_demo --gallery demo_out/data",
        _expect(stopped="SIGINT", requests=0, gallery="demo_out/data"),
        why="stopped with SIGINT (Ctrl-C) once it serves",
        server=True,
    ),
    # docs/training.md and docs/data.md: VoxCeleb1 and VGGFace1 paths hold a tiny synthetic corpus.
    "s2f prepare --meta vox1_meta.csv --voices VoxCeleb1/wav --faces vggface_64 --out data/vox1": Run(
        "real-data",
        "prepare --meta vox1_meta.csv --voices VoxCeleb1/wav --faces vggface_64 --out data/vox1"
        " --min-frames 40 --workers 2",
        _both(_exists("data/vox1/dataset.json"), _prepared),
        why="a tiny synthetic corpus at the documented paths; --min-frames 40 keeps its short clips",
    ),
    "s2f pretrain-voice --data data/vox1 --workdir runs/wen2019 --preset wen2019": Run(
        "real-data",
        "pretrain-voice --data data/vox1 --workdir runs/wen2019 --preset tiny --steps 2",
        _both(_exists("runs/wen2019/voice_encoder.weights.h5"), _expect(steps=2)),
        why=TINY_TRAINING,
    ),
    "s2f train --data data/vox1 --workdir runs/wen2019": Run(
        "real-data",
        "train --data data/vox1 --workdir runs/wen2019 --steps 2",
        _both(
            _exists("runs/wen2019/checkpoints/ckpt-2.index"),
            _expect(steps=2, resumed_from=None, replicas=1),
        ),  # fmt: skip
        why=TINY_TRAINING + "; the work directory's preset",
    ),
    "s2f train --data data/vox1 --workdir runs/wen2019 --cpu-replicas 2": Run(
        "real-data",
        "train --data data/vox1 --workdir runs/wen2019 --cpu-replicas 2 --steps 3",
        _expect(steps=3, resumed_from=2, replicas=2, global_batch_size=4),
        why="one step more than the run above, on 2 logical CPUs (the tiny preset's batch of 4)",
    ),
    shlex.join(
        [
            'TF_CONFIG={"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type":'
            ' "worker", "index": 0}}',
            *"s2f train --data data/vox1 --workdir runs/wen2019 --strategy multi_worker".split(),
        ]
    ): Run(
        "real-data",
        "train --data data/vox1 --workdir runs/wen2019 --strategy multi_worker --steps 5",
        _expect(steps=5, resumed_from=3, replicas=2),
        why="both workers on this host (loopback ports, one shared work directory), resuming the"
        " 3 steps above to 5",
        workers=2,
    ),
    "s2f evaluate --data data/vox1 --workdir runs/wen2019": Run(
        "real-data",
        "evaluate --data data/vox1 --workdir runs/wen2019 --classifier-steps 2",
        _exists("runs/wen2019/eval/report.md", "runs/wen2019/eval/metrics.json"),
        why="judges trained 2 steps (FID is skipped: the suite downloads nothing)",
    ),
    "s2f export --workdir runs/wen2019 --out savedmodels/wen2019": Run(
        "real-data",
        "export --workdir runs/wen2019 --out savedmodels/wen2019",
        _both(_exists("savedmodels/wen2019/1/wen2019_int8.tflite"), _expect(version=1)),
    ),
    # docs/data.md, a synthetic corpus at VoxCeleb scale.
    "s2f synth --out corpus_vox --identities 1251 --utterances 8 --faces 6 --lengths voxceleb"
    " --workers 16": Run(
        "synth",
        "synth --out corpus_vox --identities 3 --utterances 1 --faces 1 --lengths voxceleb"
        " --workers 2",
        _both(
            _exists("corpus_vox/vox1_meta.csv"),
            _expect(identities=3, utterances=3, faces=3, lengths="voxceleb"),
        ),  # fmt: skip
        why="3 identities of one utterance and photo, 2 workers",
    ),
    # docs/authors-weights.md: tiny-sized state dicts in the released layout.
    "s2f import-torch --voice pretrained/voice_embedding.pth --generator pretrained/generator.pth"
    " --workdir runs/wen2019_official": Run(
        "import-torch",
        "import-torch --voice pretrained/voice_embedding.pth --generator pretrained/generator.pth"
        " --workdir runs/wen2019_official --preset tiny",
        _both(_exists("runs/wen2019_official/checkpoints/ckpt-1.index"), _expect(preset="tiny")),
        why="state dicts of the reference layout at the tiny sizes (the released files are 60 MB"
        " and downloaded)",
    ),
    "s2f export --workdir runs/wen2019_official --out savedmodels/s2f_wen2019_official": Run(
        "import-torch",
        "export --workdir runs/wen2019_official --out savedmodels/s2f_wen2019_official",
        _both(
            _exists("savedmodels/s2f_wen2019_official/1/s2f_wen2019_official_fp32.tflite"),
            _expect(version=1),
        ),  # fmt: skip
    ),
    "s2f generate --model savedmodels/s2f_wen2019_official --wav my_voice.wav --out face.png": Run(
        "import-torch",
        "generate --model savedmodels/s2f_wen2019_official --wav my_voice.wav --out face.png",
        _both(_exists("face.png"), _expect(images=["face.png"])),
        why="a synthetic recording as my_voice.wav",
    ),
    "s2f generate --model savedmodels/s2f_wen2019_official/1/s2f_wen2019_official_fp32.tflite"
    " --wav my_voice.wav --out face_tflite.png": Run(
        "import-torch",
        "generate --model savedmodels/s2f_wen2019_official/1/s2f_wen2019_official_fp32.tflite"
        " --wav my_voice.wav --out face_tflite.png",
        _both(_exists("face_tflite.png"), _expect(images=["face_tflite.png"])),
        why="a synthetic recording as my_voice.wav",
    ),
    # README, "The model in the package": the TFLite model shipped inside s2f_tf/bundled/.
    "s2f generate --model bundled --wav my_voice.wav --out face.png": Run(
        "bundled",
        "generate --model bundled --wav my_voice.wav --out face.png",
        _both(_exists("face.png"), _expect(images=["face.png"])),
        why="a synthetic recording as my_voice.wav",
    ),
    "s2f app --model bundled": Run(
        "bundled",
        "app --model bundled",
        _expect(stopped="SIGINT", requests=0),
        why="stopped with SIGINT (Ctrl-C) once it serves",
        server=True,
    ),
}


def _flags(line: str) -> set[str]:
    return {token.split("=", 1)[0] for token in shlex.split(line) if token.startswith("--")}


def test_every_documented_command_line_has_a_run():
    lines = documented()
    assert len(lines) >= len(RUNS) and {line.text for line in lines} >= {"s2f demo --out demo_out"}
    missing = [f"{line.where}: {line.text}" for line in lines if line.text not in RUNS]
    assert not missing, (
        "documented command lines with no entry in RUNS (tests/test_documented_commands.py) saying"
        " how each runs small:\n" + "\n".join(missing)
    )
    gone = set(RUNS) - {line.text for line in lines}
    assert not gone, f"RUNS entries for command lines no document shows any more: {sorted(gone)}"


@pytest.mark.parametrize("text", sorted(RUNS))
def test_each_run_keeps_the_documented_command_and_flags(text):
    run = RUNS[text]
    documented_argv = shlex.split(text)
    command = documented_argv[documented_argv.index("s2f") + 1]
    assert shlex.split(run.argv)[0] == command
    assert _flags(text) <= _flags(run.argv), f"{text}: {run.argv} drops a documented flag"
    assert run.why


def test_command_lines_are_read_from_every_kind_of_code_block(tmp_path):
    guide = tmp_path / "docs" / "guides" / "train.md"
    guide.parent.mkdir(parents=True)
    guide.write_text(
        "Inline `s2f info --preset tiny` is prose.\n"
        "```\n"
        "s2f synth           synthetic identities (a table of commands)\n"
        "```\n"
        "```bash\n"
        "python3 -m venv .venv && .venv/bin/s2f demo --out d  # a comment\n"
        "TF_CONFIG='{\"task\": 1}' \\\n"
        "  s2f train --data d --workdir w | tee log\n"
        "```\n"
        "~~~python\n"
        "from s2f_tf.config import preset  # not a command\n"
        "~~~\n"
    )
    assert documented([guide]) == [
        Documented("train.md:6", "s2f demo --out d"),
        Documented("train.md:7", "'TF_CONFIG={\"task\": 1}' s2f train --data d --workdir w"),
    ]


# === Running them ===


def _stand_ins(folder: Path, group: str) -> None:
    """The small inputs a group's documented command lines read, at their documented paths."""
    if group == "real-data":
        from s2f_tf.synth import corpus

        corpus.generate(folder / "corpus", identities=8, utterances=3, faces=2, seed=11, workers=1)
        (folder / "vox1_meta.csv").symlink_to(folder / "corpus" / "vox1_meta.csv")
        (folder / "VoxCeleb1").mkdir()
        (folder / "VoxCeleb1" / "wav").symlink_to(folder / "corpus" / "wav")
        (folder / "vggface_64").symlink_to(folder / "corpus" / "faces")
    if group == "import-torch":
        pytest.importorskip("torch", reason="import-torch needs the optional extra torch")
        from test_convert import reference_nets, save

        from s2f_tf.config import preset

        voice, generator = reference_nets(preset("tiny"))
        (folder / "pretrained").mkdir()
        save(voice.state_dict(), folder / "pretrained" / "voice_embedding.pth")
        save(generator.state_dict(), folder / "pretrained" / "generator.pth")
    if group == "bundled":
        from s2f_tf import bundled

        if not bundled.MODEL.is_file():
            pytest.skip(f"this installation has no bundled model ({bundled.MODEL})")
    if group in ("import-torch", "bundled"):
        import soundfile

        from s2f_tf.serving.checks import check_clips

        wave = check_clips(16000, (32000,), seed=5)[0]
        soundfile.write(folder / "my_voice.wav", wave, 16000, subtype="PCM_16")


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _summary(text: str, out: str, err: str) -> dict:
    lines = out.strip().splitlines()
    assert lines, f"{text}: nothing on standard output\n{err[-3000:]}"
    summary = json.loads(lines[-1])
    assert isinstance(summary, dict), lines[-1]
    noise = [line for line in re.split(r"[\r\n]", err) if line.strip() and not EXPECTED.match(line)]
    assert not noise, f"{text}: standard error holds more than progress bars\n{err[-3000:]}"
    return summary


def _run(text: str, run: Run, folder: Path) -> list[dict]:
    """Run one entry in `folder`; the summaries of its processes."""
    argv = shlex.split(run.argv)
    env = {"TQDM_DISABLE": "1"}
    if run.workers:
        hosts = [f"127.0.0.1:{port}" for port in _free_ports(run.workers)]
        configs = [
            {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}}
            for i in range(run.workers)
        ]
        processes = [
            s2f_process(*argv, env={**env, "TF_CONFIG": json.dumps(c)}, cwd=folder) for c in configs
        ]
    else:
        processes = [s2f_process(*argv, env=env, cwd=folder)]
    try:
        if run.server:
            (process,) = processes
            for line in process.stdout:
                if line.startswith("s2f app: serving "):
                    break
            process.send_signal(signal.SIGINT)
        results = [p.communicate(timeout=600) for p in processes]
    finally:
        for process in processes:
            process.kill()
    summaries = []
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, f"{text}: exit status {process.returncode}\n{err[-3000:]}"
        summaries.append(_summary(text, out, err))
    return summaries


GROUPS = ["synth", "real-data", "import-torch", "bundled", "demo"]
HEAVY = {"real-data", "import-torch", "bundled", "demo"}


@pytest.mark.parametrize(
    "group",
    [pytest.param(g, marks=pytest.mark.slow) if g in HEAVY else g for g in GROUPS],
)
def test_documented_command_lines_run_as_separate_processes(group, tmp_path, request):
    """The heavy groups are slow-marked; their commands' paths are also covered in process by
    test_convert, test_train (multi-worker), test_training_commands (options between pretrain-voice
    and train) and test_cli_errors (a batch the replicas do not divide)."""
    assert {run.group for run in RUNS.values()} == set(GROUPS)
    folder = tmp_path
    if group == "demo":  # the demo ran once for the session (conftest.tiny_demo)
        folder, demo = request.getfixturevalue("tiny_demo")
    _stand_ins(folder, group)
    before = set(os.listdir(ROOT))
    for text, run in RUNS.items():
        if run.group != group:
            continue
        if run.argv == TINY_DEMO:
            assert demo.status == 0, f"{text}: exit status {demo.status}\n{demo.err[-3000:]}"
            summaries = [_summary(text, demo.out, demo.err)]
        else:
            summaries = _run(text, run, folder)
        for summary in summaries:
            run.check(summary, folder)
    assert set(os.listdir(ROOT)) == before  # everything went to the temporary folder
