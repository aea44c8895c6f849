"""Keeping TensorFlow's start-up noise away from `s2f` users (shown again with `s2f --verbose`).

TensorFlow prints, before any command's own output: C++ log lines written before absl's logging is
initialised (`WARNING: All log messages before absl::InitializeLog() ...`, the oneDNN notice, "Could not
find cuda drivers") and LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", which no
environment variable turns off; later C++ errors that are not errors for a
user (`failed call to cuInit` on a machine without a GPU, grappler's remapper), which
`TF_CPP_MIN_LOG_LEVEL=3` turns off; and Python warnings and log records from Keras, TensorFlow and absl
(Keras' "`shuffle=True` was passed, but will be ignored" for a `tf.data` input).

`quiet_tensorflow()` turns these off for the length of one command, without importing TensorFlow (so
`s2f --help` stays fast):
- `TF_CPP_MIN_LOG_LEVEL=3` unless the user set it;
- the process's file descriptor 2 goes through a pipe whose reader drops C++ log lines
  (`[IWE]MMDD hh:mm:ss...`, and absl's "before InitializeLog" line) and passes every other line on, so a
  fatal `F...` line, a crash report or a child process's output still reaches the terminal;
- Python's own `sys.stderr` writes straight to the real standard error (the command's messages, progress
  bars and its one-line errors never wait in the pipe);
- warnings raised from keras / tensorflow / absl modules are ignored and the `tensorflow` / `absl` loggers
  show errors only.

It does nothing when `sys.stderr` is not the process's own standard error (a test capturing it in-process).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import threading
import warnings

# A C++ log line from TensorFlow / XLA / absl: severity letter, MMDD, time, thread id, file:line]; absl's
# line before its logging starts; LiteRT's notes when an interpreter is made ("INFO: Created TensorFlow
# Lite XNNPACK delegate for CPU."); libmpg123's diagnostics while libsndfile decodes a damaged MP3
# ("[src/libmpg123/layer3.c:...] error: ...", "Note: Illegal Audio-MPEG-Header ...", "Warning: Xing
# stream size off ..."; the command's own line says what became of the file).
TF_LOG_LINE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]|WARNING: All log messages before absl::InitializeLog"
    rb"|INFO: (?:Created|Initialized) TensorFlow Lite |\[[^\]]*libmpg123/[^\]]*\] |(?:Note|Warning): )"
)
NOISY_MODULES = r"(keras|tensorflow|tf_keras|absl|google\.protobuf|h5py)(\.|$)"


def _pump(read_fd: int, write_fd: int):
    """Copy lines from `read_fd` to `write_fd`, dropping TensorFlow's C++ log lines, until EOF."""
    pending = b""
    with open(read_fd, "rb", buffering=0, closefd=True) as source:
        while True:
            chunk = source.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not TF_LOG_LINE.match(line))
            if kept:
                os.write(write_fd, kept)
    if pending and not TF_LOG_LINE.match(pending):
        os.write(write_fd, pending)


@contextlib.contextmanager
def quiet_tensorflow(verbose: bool = False):
    """Within the block, TensorFlow's start-up and log noise is not shown (see the module docstring)."""
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=NOISY_MODULES)
        levels = {name: logging.getLogger(name).level for name in ("tensorflow", "absl")}
        for name in levels:
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            with _filtered_fd2():
                yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _filtered_fd2():
    own = sys.stderr is sys.__stderr__ and sys.stderr is not None
    try:
        own = own and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        own = False
    if not own:
        yield
        return
    sys.stderr.flush()
    terminal = os.dup(2)  # the real standard error
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    pump = threading.Thread(target=_pump, args=(read_fd, terminal), daemon=True, name="s2f-stderr")
    pump.start()
    python_err = sys.stderr
    direct = io.TextIOWrapper(
        open(os.dup(terminal), "wb", buffering=0, closefd=True),
        encoding=python_err.encoding,
        errors="backslashreplace",
        line_buffering=True,
        write_through=True,
    )
    sys.stderr = direct
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            direct.flush()
        sys.stderr = python_err
        os.dup2(terminal, 2)  # closes the pipe's last write end in this process: the pump sees EOF
        pump.join(timeout=2.0)  # a child process still holding the pipe must not hold up the exit
        if not pump.is_alive():
            os.close(terminal)
        with contextlib.suppress(Exception):
            direct.close()
