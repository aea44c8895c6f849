"""`s2f export`: a work directory -> a TF Serving SavedModel and TFLite files, each checked before publishing.

Everything lands in one version directory of the TF Serving layout, written to a temporary sibling and
renamed only after every check has passed (an existing version is never overwritten):

    OUT/<version>/saved_model.pb, variables/, assets/, fingerprint.pb   the SavedModel (TF Serving loads these)
    OUT/<version>/NAME_fp32.tflite, NAME_fp16.tflite, NAME_int8.tflite  LiteRT models (Serving ignores them)
    OUT/<version>/config.json                                           preset, sample rate, I/O contract
    OUT/<version>/export_report.json                                    parity figures, sizes, paths

The SavedModel and the TFLite source are written with `keras.export.ExportArchive` (never a plain
`tf.Module`: see docs/recipe.md, TensorFlow pitfall 1). Checks: the SavedModel is reloaded with the TF1 session loader (what TF
Serving does) and both signatures are run and compared with the Keras model; each TFLite file runs in the
LiteRT interpreter on clips from 1 sample to 20 s; fp32 must match Keras within `tolerance`, fp16 and int8
report PSNR against fp32. `archive` builds the one export archive, `saved_model` and `tflite` write and
check each artifact, and this module publishes them.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from tqdm.auto import tqdm

from s2f_tf import workdir as workdir_layout
from s2f_tf.errors import S2FError
from s2f_tf.files import atomic_directory, atomic_write_json
from s2f_tf.locks import remove_stale
from s2f_tf.serving import CONTRACT, FP32_TOLERANCE, QUANTIZATIONS
from s2f_tf.serving.archive import build_inference_model
from s2f_tf.serving.checks import CHECK_SAMPLES, check_clips
from s2f_tf.serving.saved_model import SERVING_TAG, check_saved_model, write_saved_model
from s2f_tf.serving.tflite import TEMP_PREFIX, check_tflite, convert_tflite

REPORT = "export_report.json"


# === Versions and the contract ===


def versions(base) -> list[int]:
    """The published integer versions under a model base path, ascending."""
    base = Path(base)
    if not base.is_dir():
        return []
    return sorted(
        int(p.name) for p in base.iterdir() if p.is_dir() and re.fullmatch(r"\d+", p.name)
    )


def next_version(base) -> int:
    existing = versions(base)
    return existing[-1] + 1 if existing else 1


def remove_stale_leftovers(base) -> list[str]:
    """Remove what killed exports left: `.N.XXXX.tmp` under the base path and `s2f_tflite_*` in the
    system temporary folder. A live export holds a lock on its directories, so only those of dead
    processes go (see `s2f_tf.locks`)."""
    base = Path(base)
    staging = [p for p in base.glob(".*.tmp") if re.fullmatch(r"\.\d+\..+\.tmp", p.name)]
    scratch = Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*")
    return [str(p) for p in remove_stale(staging) + remove_stale(scratch)]


def _make_readable(path: Path):
    for item in [path, *path.rglob("*")]:
        item.chmod(0o755 if item.is_dir() else 0o644)


def _directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def contract(config, name: str, version: int, quantizations) -> dict:
    """The input/output contract written to config.json beside the artifacts."""
    outputs = _outputs(config)
    return {
        "name": name,
        "version": version,
        "preset": config.name,
        "sample_rate": config.audio.sample_rate,
        "test_frames": config.audio.test_frames,
        "saved_model": _saved_model_contract(config.audio.sample_rate, outputs),
        "tflite": {
            "files": {q: f"{name}_{q}.tflite" for q in quantizations},
            "signature": "serving_default",
            "inputs": {"waveform": {"dtype": "float32", "shape": [1, None]}},
            "outputs": {k: dict(v, shape=[1] + v["shape"][1:]) for k, v in outputs.items()},
            "note": "resize_tensor_input + allocate_tensors for every new length",
        },
        "config": config.to_dict(),
    }


def _outputs(config) -> dict:
    """What every signature returns: the face (uint8 and float) and the voice embedding."""
    size = config.model.image_size
    return {
        "face": {
            "dtype": "uint8",
            "shape": [None, size, size, 3],
            "meaning": "round((clip(face_float, -1, 1) + 1) * 127.5), RGB",
        },
        "face_float": {
            "dtype": "float32",
            "shape": [None, size, size, 3],
            "meaning": "generator output, linear, nominally [-1, 1]",
        },
        "embedding": {
            "dtype": "float32",
            "shape": [None, config.model.embedding_dim],
            "meaning": "L2-normalised voice embedding fed to the generator",
        },
    }


def _saved_model_contract(rate: int, outputs: dict) -> dict:
    """The SavedModel's tag and its two signatures: waveform samples, and encoded WAV files."""
    return {
        "tag": SERVING_TAG,
        "signatures": {
            "serving_default": {
                "inputs": {
                    "waveform": {
                        "dtype": "float32",
                        "shape": [None, None],
                        "meaning": f"mono samples at {rate} Hz in [-1, 1]; one length per batch",
                    }
                },
                "outputs": outputs,
            },
            "from_wav": {
                "inputs": {
                    "wav": {
                        "dtype": "string",
                        "shape": [None],
                        "meaning": f'encoded 16-bit PCM WAV files at {rate} Hz (REST: {{"b64": ...}})',
                    }
                },
                "outputs": outputs,
                "other_sample_rates": "rejected with InvalidArgumentError (not resampled)",
                "channels": "downmixed to mono (mean)",
            },
        },
    }


# === The whole export ===


def export(
    workdir,
    out,
    version: int | None = None,
    quantizations=QUANTIZATIONS,
    tolerance: float = FP32_TOLERANCE,
    check_samples=CHECK_SAMPLES,
    progress: bool = True,
) -> dict:
    """Export the work directory's models to `out/<version>/` (SavedModel + TFLite), checked; the report.

    Args:
        workdir: a work directory (`s2f_tf.workdir` layout) with a voice encoder and a GAN checkpoint.
        out: the model base path, `savedmodels/NAME`; NAME names the TFLite files.
        version: the integer version to write (default: one more than the highest existing one).
        quantizations: which TFLite files to write (subset of fp32, fp16, int8; empty for none).
        tolerance: the largest max |face_float - Keras| accepted for the SavedModel and fp32 TFLite.
        check_samples: clip lengths (samples) the checks run.

    Raises:
        S2FError: bad work directory, existing version; ExportCheckError if a check fails (then no version
        directory is left behind).

    Example:
    >>> report = export("runs/small", "savedmodels/s2f_small")
    >>> report["saved_model"]["path"]
    'savedmodels/s2f_small/1'
    """
    start = time.time()
    base, name, version, target = _new_version(out, version)
    config, voice_encoder, generator = workdir_layout.load_inference_models(workdir)
    removed = remove_stale_leftovers(base)
    with _Progress(progress) as step:
        step("keras reference")
        model = build_inference_model(config, voice_encoder, generator)
        clips = check_clips(config.audio.sample_rate, check_samples)
        try:
            with atomic_directory(target) as staging:
                saved_model_report, tflite_report = _write_and_check(
                    staging, target, model, clips, quantizations, tolerance, step
                )
                step("publish")
                report = {
                    "name": name,
                    "version": version,
                    "workdir": str(workdir),
                    "checkpoint": workdir_layout.latest_checkpoint(workdir),
                    "preset": config.name,
                    "saved_model": dict(path=str(target), **saved_model_report),
                    "tflite": tflite_report,
                    "check_clip_samples": list(check_samples),
                    "removed_stale_leftovers": removed,
                    "tolerance": tolerance,
                    "config_path": str(target / CONTRACT),
                    "report_path": str(target / REPORT),
                    "seconds": round(time.time() - start, 1),
                }
                _publish(staging, report, contract(config, name, version, quantizations))
        except FileExistsError:
            raise S2FError(f"{target} appeared while exporting; not overwritten") from None
    return report


def _new_version(out, version):
    """(base path, model name, version, version directory) for a new export; S2FError if unusable."""
    base = Path(out)
    name = base.name
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name or ""):
        raise S2FError(
            f"--out {out}: the last path component names the model; use letters, digits, . _ -"
        )
    if version is None:
        version = next_version(base)
    elif version < 0:
        raise S2FError(f"--version {version}: must be a non-negative integer")
    target = base / str(version)
    if target.exists():
        raise S2FError(f"{target} already exists (versions are never overwritten; omit --version)")
    return base, name, version, target


def _write_and_check(staging: Path, target: Path, model, clips, quantizations, tolerance, step):
    """Write the SavedModel and the TFLite files into `staging` (to be renamed `target`), each checked;
    their reports."""
    step("write SavedModel")
    write_saved_model(model, staging)
    size = _directory_size(staging)
    step("check SavedModel (session loader)")
    saved_model_report = dict(
        size_bytes=size, **check_saved_model(staging, model, clips, tolerance)
    )
    step("convert TFLite")
    contents = convert_tflite(model, quantizations) if quantizations else {}
    step("check TFLite (LiteRT)")
    tflite_report = check_tflite(contents, model, clips, tolerance) if contents else {}
    for quantization, content in contents.items():
        filename = f"{target.parent.name}_{quantization}.tflite"
        (staging / filename).write_bytes(content)
        tflite_report[quantization]["path"] = str(target / filename)
    return saved_model_report, tflite_report


def _publish(staging: Path, report: dict, the_contract: dict) -> None:
    """Write config.json (the contract) and the report into `staging`, readable by all."""
    atomic_write_json(staging / CONTRACT, the_contract)
    atomic_write_json(staging / REPORT, report)
    _make_readable(staging)  # mkdtemp gives 0700; TF Serving may run as another user


class _Progress:
    """A six-step tqdm bar: each call marks the previous step done and names the next one."""

    def __init__(self, enabled: bool):
        self.bar = tqdm(total=6, desc="export", disable=not enabled, unit="step")
        self.started = False

    def __call__(self, label: str):
        self.bar.update(1 if self.started else 0)
        self.bar.set_description(f"export: {label}")
        self.started = True

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.bar.update(1)
        self.bar.close()
