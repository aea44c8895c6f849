"""TensorFlow's start-up noise is hidden from `s2f` users and shown with `--verbose` (s2f_tf/commands/quiet.py)."""

import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import tensorflow as tf

from s2f_tf.commands import quiet


def s2f_raw(*args, cwd=None):
    """`s2f` as a user runs it: no TF_CPP_MIN_LOG_LEVEL of ours in the environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "S2F_DEBUG")}
    return subprocess.run(
        [sys.executable, "-m", "s2f_tf", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=cwd,
    )


def test_error_run_prints_exactly_one_line_on_stderr(tmp_path):
    # evaluate imports TensorFlow before it finds that the work directory has no config.json, so the
    # start-up lines (absl's "before InitializeLog", oneDNN, cuda drivers, cuInit) would come first.
    result = s2f_raw("evaluate", "--data", str(tmp_path), "--workdir", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("s2f evaluate: error: ") and "no config.json" in lines[0]
    assert result.stderr.endswith("\n")


def test_verbose_shows_tensorflow_log_lines_and_the_same_error(tmp_path):
    for argv in (
        ["--verbose", "evaluate", "--data", str(tmp_path), "--workdir", str(tmp_path)],
        ["evaluate", "--data", str(tmp_path), "--workdir", str(tmp_path), "--verbose"],
    ):
        result = s2f_raw(*argv)
        assert result.returncode == 2
        lines = result.stderr.splitlines()
        assert any(quiet.TF_LOG_LINE.match(line.encode()) for line in lines), result.stderr
        assert lines[-1].startswith("s2f evaluate: error: ")


def test_pump_drops_only_tensorflow_log_lines(tmp_path):
    noise = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        b"I0000 00:00:1796118366.809609    5485 port.cc:153] oneDNN custom operations are on.",
        b"E0000 00:00:1796118247.947125    3804 cuda_platform.cc:52] failed call to cuInit: INTERNAL",
        b"E1201 09:41:07.123456  123 meta_optimizer.cc:966] remapper failed: INVALID_ARGUMENT: ...",
        b"W0000 00:00:1796118247.947125    3804 gpu_device.cc:2342] Cannot dlopen some GPU libraries.",
        b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
        b"[src/libmpg123/layer3.c:III_get_side_info():247] error: Blocktype == 0 not allowed.",
        b"Warning: Xing stream size off by more than 1%, fuzzy seeking may be even more fuzzy",
    ]
    kept = [
        b"F0000 00:00:1796118247.947125    3804 check.cc:1] Check failed: a fatal line stays",
        b"Fatal Python error: Segmentation fault",
        b"s2f train: error: something the user must see",
        b"Error: I0000 in the middle of a line is not a log line",
        b"warning: unreadable checkpoint(s) skipped (ckpt-2: OpError); resuming from ckpt-1",
    ]
    read_fd, write_fd = os.pipe()
    out = tmp_path / "out"
    with open(out, "wb") as sink:
        os.write(write_fd, b"\n".join([noise[0], kept[0], *noise[1:3], kept[1], noise[3], kept[2]]))
        tail = [*noise[4:], kept[3], kept[4]]
        os.write(write_fd, b"\n" + b"\n".join(tail))  # no newline at the end
        os.close(write_fd)
        quiet._pump(read_fd, sink.fileno())
    assert out.read_bytes() == b"\n".join(kept)


def _fit_once():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    data = tf.data.Dataset.from_tensor_slices((np.ones((4, 2), "f"), np.ones((4, 1), "f"))).batch(2)
    model.fit(data, epochs=1, verbose=0)  # shuffle=True by default: Keras warns for a tf.data input


def test_keras_shuffle_warning_hidden_inside_quiet_only():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit_once()
    assert any("shuffle=True" in str(w.message) for w in caught)  # the warning this hides exists
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet.quiet_tensorflow():
            _fit_once()
            warnings.warn("a warning of s2f's own stays", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["a warning of s2f's own stays"]


def test_successful_run_shows_no_tensorflow_lines(tmp_path, tiny_export, audio_files):
    # Loading and running a SavedModel is where TensorFlow logs most (cuInit, grappler, absl).
    generate = ["generate", "--model", str(tiny_export), "--wav", str(audio_files / "speech.wav")]
    result = s2f_raw(*generate, "--out", str(tmp_path / "faces.png"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "faces.png").is_file()
    for line in result.stderr.splitlines():
        assert not quiet.TF_LOG_LINE.match(line.encode()), line
        assert not any(word in line for word in ("cuInit", "oneDNN", "absl", "cuda drivers")), line
    verbose = s2f_raw("--verbose", *generate, "--out", str(tmp_path / "again.png"))
    assert verbose.returncode == 0
    assert any(quiet.TF_LOG_LINE.match(line.encode()) for line in verbose.stderr.splitlines())
