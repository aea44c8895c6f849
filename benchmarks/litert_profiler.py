"""LiteRT's own op profiler for a `.tflite` file, through the LiteRT C API, and the readers of its summary.

The Python `Interpreter` does not expose the profiler, so the C API of the installed `ai_edge_litert`
wheel (libLiteRt.so) is called through ctypes: a `CompiledModel` on the CPU accelerator (XNNPACK) with the
runtime option `enable_profiling`, and `LiteRtGetProfileSummary`, the same summariser as the
`benchmark_model` tool's --enable_op_profiling. Used by `inference_profile.py`.
"""

from __future__ import annotations

import ctypes
import re
import time
from pathlib import Path

STAGES = ("front end", "encoder", "generator")


# === LiteRT's op profiler, through the C API ===


class LiteRtProfiler:
    """A `.tflite` file as a LiteRT CompiledModel (CPU accelerator) with profiling on, for `[1, samples]`.

    Only what profiling needs: one float32 input, outputs read back never. Raises RuntimeError with the
    failing call's name and LiteRtStatus.
    """

    def __init__(self, path, threads: int, num_samples: int):
        import ai_edge_litert

        self.lib = lib = ctypes.CDLL(str(Path(ai_edge_litert.__file__).parent / "libLiteRt.so"))
        libc = ctypes.CDLL(None)
        libc.strdup.restype = ctypes.c_void_p
        libc.strdup.argtypes = [ctypes.c_char_p]
        self._strdup, self._free = libc.strdup, ctypes.cast(libc.free, ctypes.c_void_p)
        void_p, index = ctypes.c_void_p, ctypes.c_size_t
        lib.LiteRtCreateOpaqueOptions.argtypes = [
            ctypes.c_char_p, void_p, void_p, ctypes.POINTER(void_p)
        ]  # fmt: skip
        lib.LiteRtAddOpaqueOptions.argtypes = [void_p, void_p]
        lib.LiteRtCompiledModelResizeInputTensor.argtypes = [
            void_p, index, index, ctypes.POINTER(ctypes.c_int32), index
        ]  # fmt: skip
        lib.LiteRtGetProfileSummary.argtypes = [void_p, void_p, ctypes.POINTER(void_p)]
        lib.LiteRtRunCompiledModel.argtypes = [
            void_p, index, index, ctypes.POINTER(void_p), index, ctypes.POINTER(void_p)
        ]  # fmt: skip

        self.env, self.model, options = void_p(), void_p(), void_p()
        self._check(lib.LiteRtCreateEnvironment(0, None, ctypes.byref(self.env)), "environment")
        self._check(
            lib.LiteRtCreateModelFromFile(self.env, str(path).encode(), ctypes.byref(self.model)),
            "model",
        )
        self._check(lib.LiteRtCreateOptions(ctypes.byref(options)), "options")
        self._check(lib.LiteRtSetOptionsHardwareAccelerators(options, 1), "accelerator")  # CPU
        # Opaque options are TOML strings: the CPU (XNNPACK) group and the runtime group.
        self._add_options(options, "xnnpack", f"num_threads = {threads}\n")
        self._add_options(options, "runtime_options_string", "enable_profiling = true\n")
        self.compiled = void_p()
        self._check(
            lib.LiteRtCreateCompiledModel(
                self.env, self.model, options, ctypes.byref(self.compiled)
            ),
            "compiled model",
        )
        dims = (ctypes.c_int32 * 2)(1, num_samples)
        self._check(
            lib.LiteRtCompiledModelResizeInputTensor(self.compiled, 0, 0, dims, 2), "resize"
        )
        self.signature = void_p()
        self._check(
            lib.LiteRtGetModelSignature(self.model, index(0), ctypes.byref(self.signature)), "sig"
        )
        # LiteRtRankedTensorType: element type, then the layout {rank, dims[8], strides*}.
        input_type = self._tensor_type("Input", 0)
        words = (ctypes.c_int32 * 2).from_buffer(input_type, 8)
        words[1] = num_samples  # dims[1]: the waveform's length (the file says -1)
        self.input = self._buffer("Input", 0, input_type)
        count = index()
        self._check(
            lib.LiteRtGetNumSignatureOutputs(self.signature, ctypes.byref(count)), "outputs"
        )
        outputs = [
            self._buffer("Output", i, self._tensor_type("Output", i)) for i in range(count.value)
        ]
        self._inputs = (void_p * 1)(self.input)
        self._outputs = (void_p * len(outputs))(*outputs)
        self.profiler = void_p()
        self._check(
            lib.LiteRtCompiledModelGetProfiler(self.compiled, ctypes.byref(self.profiler)),
            "profiler",
        )

    def _check(self, status: int, what: str):
        if status != 0:
            raise RuntimeError(f"LiteRT {what}: LiteRtStatus {status}")

    def _add_options(self, options, identifier: str, toml: str):
        opaque = ctypes.c_void_p()
        payload = self._strdup(toml.encode())  # the options take it over and free() it
        self._check(
            self.lib.LiteRtCreateOpaqueOptions(
                identifier.encode(), payload, self._free, ctypes.byref(opaque)
            ),
            f"{identifier} options",
        )
        self._check(self.lib.LiteRtAddOpaqueOptions(options, opaque), f"add {identifier} options")

    def _tensor_type(self, kind: str, i: int):
        tensor, blob = ctypes.c_void_p(), (ctypes.c_byte * 256)()
        getter = getattr(self.lib, f"LiteRtGetSignature{kind}TensorByIndex")
        self._check(
            getter(self.signature, ctypes.c_size_t(i), ctypes.byref(tensor)), f"{kind} tensor"
        )
        self._check(self.lib.LiteRtGetRankedTensorType(tensor, ctypes.byref(blob)), "tensor type")
        return blob

    def _buffer(self, kind: str, i: int, tensor_type):
        requirements, buffer = ctypes.c_void_p(), ctypes.c_void_p()
        getter = getattr(self.lib, f"LiteRtGetCompiledModel{kind}BufferRequirements")
        self._check(
            getter(
                self.compiled, ctypes.c_size_t(0), ctypes.c_size_t(i), ctypes.byref(requirements)
            ),
            f"{kind} requirements",
        )
        self._check(
            self.lib.LiteRtCreateManagedTensorBufferFromRequirements(
                self.env, ctypes.byref(tensor_type), requirements, ctypes.byref(buffer)
            ),
            f"{kind} buffer",
        )
        return buffer

    def set_input(self, waveform):
        import numpy as np

        waveform = np.ascontiguousarray(waveform, np.float32)
        address = ctypes.c_void_p()
        self._check(self.lib.LiteRtLockTensorBuffer(self.input, ctypes.byref(address), 1), "lock")
        ctypes.memmove(address, waveform.ctypes.data, waveform.nbytes)
        self._check(self.lib.LiteRtUnlockTensorBuffer(self.input), "unlock")

    def run(self):
        self._check(
            self.lib.LiteRtRunCompiledModel(
                self.compiled, 0, 1, self._inputs, len(self._outputs), self._outputs
            ),
            "run",
        )

    def profile(self, runs: int) -> tuple[str, list[float]]:
        """(the profiler's summary text, wall seconds of each run) over `runs` profiled runs."""
        self._check(self.lib.LiteRtResetProfiler(self.profiler), "reset profiler")
        self._check(self.lib.LiteRtStartProfiler(self.profiler), "start profiler")
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            self.run()
            times.append(time.perf_counter() - start)
        self._check(self.lib.LiteRtStopProfiler(self.profiler), "stop profiler")
        summary = ctypes.c_void_p()
        self._check(
            self.lib.LiteRtGetProfileSummary(self.profiler, self.compiled, ctypes.byref(summary)),
            "summary",
        )
        text = ctypes.string_at(summary.value).decode()
        ctypes.CDLL(None).free(summary)
        return text, times


ROW = re.compile(
    r"^\s*(?P<type>.+?)\s+(?P<start>[\d.]+)\s+(?P<first>[\d.]+)\s+(?P<avg>[\d.]+)\s+"
    r"(?P<pct>[\d.]+)%\s+(?P<cdf>[\d.]+)%\s+(?P<mem>[\d.]+)\s+(?P<called>\d+)\s+(?P<name>\[.*)$"
)


def run_order_rows(summary: str, runs: int) -> list[dict]:
    """The "Run Order" table: one dict per op (type, ms per inference, calls per inference), in order.

    The summariser's "avg ms" is per call; a delegate row that stands for several XNNPACK operators of
    one type is called several times per inference, so ms per inference = avg x calls / runs.
    """
    section = summary.split("Run Order", 1)[1].split("\n", 1)[1].split("=====", 1)[0]
    rows = []
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            called = int(match["called"]) / runs
            rows.append(
                {
                    "op": match["type"].strip(),
                    "ms": float(match["avg"]) * called,
                    "calls": called,
                    "node": match["name"],
                    "start_ms": float(match["start"]),
                    "avg_ms": float(match["avg"]),
                }
            )
    return rows


def tflite_stage_times(rows: list[dict]) -> dict:
    """ms per stage from the run-order timeline: builtin rows carry their start time within a run
    (XNNPACK rows do not, and their names are indices within a delegate partition, so the same name can
    stand for ops of several stages). The front end ends with the tiling (TILE and the slice after
    it, both builtins), the encoder at L2_NORMALIZATION (a builtin); the rest is the generator."""
    tile = next(i for i, r in enumerate(rows) if r["op"] == "TILE")
    after_tile = rows[tile + 1]
    front = after_tile["start_ms"] + after_tile["avg_ms"]
    l2 = next(r for r in rows if r["op"] == "L2_NORMALIZATION")
    total = sum(r["ms"] for r in rows)
    return {STAGES[0]: front, STAGES[1]: l2["start_ms"] - front, STAGES[2]: total - l2["start_ms"]}
