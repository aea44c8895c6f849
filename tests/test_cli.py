"""The `s2f` command line, run as a user runs it: a separate process, exit status, stdout, stderr."""

import json
import re
import subprocess
import sys

import pytest
from conftest import s2f_run
from test_models import expected_counts

from s2f_tf import cli
from s2f_tf.config import preset

# TensorFlow's C++ start-up lines, printed on import whatever TF_CPP_MIN_LOG_LEVEL says (absl logging
# before InitializeLog); they are not the CLI's output.
TF_STARTUP = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|[IWE]\d{4} \d\d:)")


def own_lines(stderr):
    return [line for line in stderr.splitlines() if not TF_STARTUP.match(line)]


def test_help_lists_every_command():
    result = s2f_run("--help")
    assert result.status == 0, result.err
    listed = set(re.findall(r"^    (\S+)", result.out, re.MULTILINE))  # argparse's command column
    assert listed == set(cli.COMMANDS)
    assert "usage: s2f" in result.out


def test_info_prints_parameter_counts_as_last_json_line():
    result = s2f_run("info", "--preset", "tiny", "--classes", "5")
    assert result.status == 0, result.err
    summary = json.loads(result.out.strip().splitlines()[-1])
    assert summary["preset"] == "tiny"
    assert summary["config"]["model"]["voice_channels"] == [8, 8, 16, 16]
    # Counted by hand from the tiny widths (tests/test_models.py::expected_counts gives the same).
    assert summary["trainable_parameters"] == {
        "voice_encoder": 6112,
        "generator": 24659,
        "face_embedder": 24192,
        "discriminator": 64,
        "classifier": 64 * 5,
    }
    assert summary["trainable_parameters"] == expected_counts(preset("tiny"), 5)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["info", "--preset", "nope"],
            "s2f info: error: unknown preset 'nope'; choose from wen2019, small, hq128, tiny, tiny128",
        ),
        (
            ["info", "--preset", "tiny", "--classes", "0"],
            "s2f info: error: argument --classes: must be at least 1, got 0 (see s2f info --help)",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = s2f_run(*args)
    assert result.status == 2
    assert result.out == ""
    assert own_lines(result.err) == [message]
    assert "Traceback" not in result.err


def test_parser_does_not_import_tensorflow_or_gradio():
    """`s2f --help` and argument errors should not wait for (or print) TensorFlow's or Gradio's start-up."""
    code = (
        "import sys; from s2f_tf import cli; cli.build_parser();"
        " print(sorted(m for m in ('tensorflow', 'gradio', 'keras') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


def test_unknown_command_is_a_usage_error():
    result = s2f_run("no-such-command")
    assert result.status == 2
    assert "invalid choice" in result.err and "Traceback" not in result.err
