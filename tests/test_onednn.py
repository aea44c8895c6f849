"""TensorFlow's oneDNN kernels are on wherever s2f_tf is imported first, unless the user chose
(s2f_tf.onednn); `--mixed-precision` says how much slower it is where bfloat16 is emulated."""

import ast
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from s2f_tf.commands.train import warn_if_slow_bfloat16
from s2f_tf.config import preset
from s2f_tf.onednn import MARKER, VARIABLE
from s2f_tf.train import builder

ROOT = Path(__file__).resolve().parents[1]
X86 = platform.machine().lower() in ("x86_64", "amd64")
STATE = "import json, {first}; from s2f_tf import onednn; print(json.dumps(onednn.state()))"


def _state(first="s2f_tf, tensorflow", **env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in (VARIABLE, MARKER)}
    done = subprocess.run(
        [sys.executable, "-c", STATE.format(first=first)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not X86, reason="s2f_tf leaves TensorFlow's default alone on non-x86 CPUs")
def test_importing_s2f_tf_first_turns_onednn_on():
    state = _state()
    assert state == {"onednn": True, "onednn_set_by": "s2f_tf", VARIABLE: "1"}


def test_the_users_choice_wins():
    assert _state(**{VARIABLE: "0"}) == {"onednn": False, "onednn_set_by": "user", VARIABLE: "0"}
    assert _state(**{VARIABLE: "1"})["onednn_set_by"] == "user"


@pytest.mark.skipif(not X86, reason="s2f_tf leaves TensorFlow's default alone on non-x86 CPUs")
def test_a_child_process_reports_the_choice_as_s2f_tfs():
    # What `s2f demo`'s stages or a test's subprocess inherit from an s2f_tf parent.
    assert _state(**{VARIABLE: "1", MARKER: "1"})["onednn_set_by"] == "s2f_tf"


def test_tensorflow_imported_first_keeps_its_default_and_says_so():
    state = _state(first="tensorflow, s2f_tf")
    assert state["onednn_set_by"] == "tensorflow (imported before s2f_tf)"
    assert state[VARIABLE] is None and isinstance(state["onednn"], bool)


def _imports(path):
    """(line, top-level module) of every import statement in the file, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return sorted(found)


SCRIPTS = sorted(
    p.relative_to(ROOT).as_posix()
    for folder in ("benchmarks", "examples")
    for p in (ROOT / folder).glob("*.py")
    if any(name in ("tensorflow", "keras") for _, name in _imports(p))
)


def test_the_script_list_is_not_empty():
    assert {"benchmarks/train_step.py", "benchmarks/cpu_isa.py", "examples/train_fit.py"} <= set(
        SCRIPTS
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_import_s2f_tf_before_tensorflow(script):
    imports = _imports(ROOT / script)
    heavy = min(line for line, name in imports if name in ("tensorflow", "keras"))
    ours = [line for line, name in imports if name == "s2f_tf"]
    assert ours and min(ours) < heavy, f"{script}: import s2f_tf before TensorFlow / Keras"


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile", None),  # Sapphire Rapids: native
        (
            "fpu avx2 avx512f avx512_bf16",
            "about 1.2x slower than float32 here (AVX512-BF16 without AMX",
        ),
        (
            "fpu avx2 avx512f avx512_vnni",
            "about 2.5x slower than float32 here (AVX-512 without BF16",
        ),
        ("fpu avx avx2 fma", "about 15x slower than float32 here (no AVX-512"),  # AMD Zen 2
        ("", "about 15x slower"),
    ],
)
def test_bfloat16_warning_per_cpu_kind(flags, expected):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("with a GPU the compute capability decides, not the CPU flags")
    warning = builder.bfloat16_warning(f"flags\t\t: {flags}\n")
    if expected is None:
        assert warning is None and builder.fast_bfloat16(f"flags\t\t: {flags}\n")
    else:
        assert warning.startswith("mixed_bfloat16 is " + expected), warning
        assert warning.endswith("drop --mixed-precision to train in float32")
        assert "\n" not in warning and not builder.fast_bfloat16(f"flags\t\t: {flags}\n")


def test_train_prints_one_warning_line_only_for_slow_bfloat16(monkeypatch, capsys):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("with a GPU the compute capability decides, not the CPU flags")
    monkeypatch.setattr(builder, "_cpu_flags", lambda cpuinfo: {"avx2", "fma"})
    bf16 = preset("tiny").replace(train={"mixed_precision": True})
    warn_if_slow_bfloat16(preset("tiny"))
    assert capsys.readouterr().err == ""
    warn_if_slow_bfloat16(bf16)
    err = capsys.readouterr().err.splitlines()
    assert err == [f"s2f train: warning: {builder.bfloat16_warning('flags: avx2 fma')}"]
    monkeypatch.setattr(builder, "_cpu_flags", lambda cpuinfo: {"avx512f", "amx_bf16"})
    warn_if_slow_bfloat16(bf16)
    assert capsys.readouterr().err == ""
