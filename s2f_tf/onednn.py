"""TensorFlow's oneDNN CPU kernels on every x86 CPU, unless the user chose otherwise.

TensorFlow 2.21 turns its oneDNN kernels on by default only on CPUs with AVX-512 VNNI / BF16 or AMX. On the
CPUs most people have (AVX2 without AVX-512: AMD before Zen 4, Intel laptop and desktop chips since the 12th
generation) it runs its Eigen kernels instead, which this wheel compiles for AVX only: the `wen2019` GAN step
is 2.5x slower there than with oneDNN, whose kernels pick the CPU's best instruction set at run time
(benchmarks/RESULTS-performance.md).

TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` once, when it starts, so `prefer_onednn()` runs when `s2f_tf` is
imported (before any of its modules imports TensorFlow): the command line, the library, the examples and the
benchmarks all get it. A value the user set wins, and so does TensorFlow's own default where s2f_tf comes
too late (TensorFlow imported first) or the CPU is not x86. `state()` says what ran and who chose it; `s2f
train` and `s2f demo` print it in their summary.

Example:
>>> import s2f_tf  # before tensorflow
>>> s2f_tf.onednn.state()["onednn"]  # doctest: +SKIP
True
"""

from __future__ import annotations

import os
import platform
import sys

VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
# Set beside VARIABLE when s2f_tf chose its value, so that child processes (which inherit both) still
# report the choice as s2f_tf's rather than the user's.
MARKER = "S2F_TF_SET_ONEDNN_OPTS"

_chosen_by = None


def prefer_onednn() -> str:
    """Set `TF_ENABLE_ONEDNN_OPTS=1` for this process and its children where nobody chose; returns who
    decides: "s2f_tf", "user", "tensorflow (imported before s2f_tf)" or "tensorflow (not x86)"."""
    global _chosen_by
    if os.environ.get(MARKER) == "1" and os.environ.get(VARIABLE) == "1":
        _chosen_by = "s2f_tf"
    elif VARIABLE in os.environ:
        _chosen_by = "user"
    elif "tensorflow" in sys.modules:
        _chosen_by = "tensorflow (imported before s2f_tf)"
    elif platform.machine().lower() not in ("x86_64", "amd64", "i686", "x86"):
        _chosen_by = "tensorflow (not x86)"
    else:
        os.environ[VARIABLE] = "1"
        os.environ[MARKER] = "1"
        _chosen_by = "s2f_tf"
    return _chosen_by


def enabled() -> bool | None:
    """Whether TensorFlow runs its oneDNN kernels in this process (imports TensorFlow); None where this
    TensorFlow cannot say."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # a TensorFlow without the private module
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def state() -> dict:
    """{"onednn": on / off / None, "onednn_set_by": who chose, "TF_ENABLE_ONEDNN_OPTS": the value}."""
    return {
        "onednn": enabled(),
        "onednn_set_by": _chosen_by or prefer_onednn(),
        VARIABLE: os.environ.get(VARIABLE),
    }
