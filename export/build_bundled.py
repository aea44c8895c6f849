"""Rebuild the model that ships inside the package (`s2f_tf/bundled/`) from scratch.

    python export/build_bundled.py [--work build/bundled] [--seed 0] [--precision float32]

1. `s2f demo --out WORK/demo_out --models WORK/savedmodels/s2f_demo --seed SEED --precision PRECISION`:
   the demo's own command (synth -> prepare -> pretrain-voice -> train -> export -> evaluate); it resumes,
   so a rerun after an interruption continues.
2. Copies its float32 TFLite file (the export's `fp32`), `config.json` and `export_report.json` (paths made
   relative), and the evaluation's `metrics.json` and `report.md` into `s2f_tf/bundled/`.
3. Records `reference.npz`: one utterance of each of the first `--clips` unseen (test-split) identities, cut
   to `--seconds`, as int16 samples, and the faces the shipped file draws for them (`face_float`, `face`),
   which `tests/test_bundled.py` checks the shipped file still reproduces.

Every file is written to a temporary name and renamed, so an interrupted build leaves the old bundle whole.
Prints one JSON summary last.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from s2f_tf import bundled  # noqa: E402
from s2f_tf.files import atomic_file, atomic_write_bytes, atomic_write_json, atomic_write_text  # noqa: E402

MAX_BYTES = 5 * 1024 * 1024  # what a package may carry (the shipped file stays under 5 MiB)


def run_demo(work: Path, seed: int, precision: str) -> None:
    argv = [sys.executable, "-m", "s2f_tf", "demo", "--out", str(work / "demo_out"),
            "--models", str(work / "savedmodels" / "s2f_demo"), "--seed", str(seed),
            "--precision", precision]  # fmt: skip
    print("$ s2f " + " ".join(argv[3:]), flush=True)
    if subprocess.run(argv).returncode != 0:
        sys.exit("build_bundled: s2f demo failed (see above); rerun to continue")


def newest_version(base: Path) -> Path:
    versions = sorted((int(p.name) for p in base.iterdir() if p.name.isdigit()), reverse=True)
    if not versions:
        sys.exit(f"build_bundled: no export under {base}")
    return base / str(versions[0])


def relative_paths(value, folder: Path):
    """`value` with every absolute path string replaced by its file name (nothing of the build machine
    in the shipped files)."""
    if isinstance(value, dict):
        return {k: relative_paths(v, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [relative_paths(v, folder) for v in value]
    if isinstance(value, str) and value.startswith("/"):
        return Path(value).name
    return value


def reference_clips(demo_out: Path, clips: int, seconds: float, sample_rate: int):
    """(names, int16 samples [clips, n]) of one utterance of each of the first unseen identities."""
    from s2f_tf.audio import load_audio, to_int16

    dataset = json.loads((demo_out / "data" / "dataset.json").read_text())
    unseen = sorted(n for n, p in dataset["identities"].items() if p.get("split") == "test")
    names, samples = [], []
    length = int(seconds * sample_rate)
    for name in unseen[:clips]:
        folder = demo_out / "corpus" / "wav" / dataset["identities"][name]["id"]
        first = sorted(folder.rglob("*.wav"))[0]
        audio = load_audio(first, sample_rate)[:length]
        samples.append(to_int16(pad(audio, length)))
        names.append(name)
    return names, samples


def pad(audio, length):
    import numpy as np

    return np.pad(audio, (0, length - len(audio)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bundled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32")
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    import numpy as np

    run_demo(args.work, args.seed, args.precision)
    version = newest_version(args.work / "savedmodels" / "s2f_demo")
    config = json.loads((version / "config.json").read_text())
    tflite = version / config["tflite"]["files"]["fp32"]
    if tflite.stat().st_size > MAX_BYTES:
        sys.exit(f"build_bundled: {tflite} is {tflite.stat().st_size} bytes, over {MAX_BYTES}")
    evaluation = args.work / "demo_out" / "evaluation"
    config["tflite"]["files"] = {"fp32": bundled.MODEL.name}
    config["bundled"] = {
        "what": bundled.DESCRIPTION,
        "built_by": f"python export/build_bundled.py --seed {args.seed} --precision {args.precision}",
    }
    atomic_write_bytes(bundled.MODEL, tflite.read_bytes())
    atomic_write_json(bundled.FOLDER / "config.json", config)
    report = json.loads((version / "export_report.json").read_text())
    atomic_write_json(bundled.FOLDER / "export_report.json", relative_paths(report, version))
    metrics = json.loads((evaluation / "metrics.json").read_text())
    atomic_write_json(bundled.FOLDER / "metrics.json", relative_paths(metrics, evaluation))
    report_text = (evaluation / "report.md").read_text().replace(f"{args.work}/", "")
    atomic_write_text(bundled.FOLDER / "report.md", report_text)

    from s2f_tf.serving.inference import load_model

    model = load_model(bundled.MODEL, num_threads=1)
    names, samples = reference_clips(
        args.work / "demo_out", args.clips, args.seconds, model.sample_rate
    )
    outputs = [model(s.astype(np.float32) / 32768.0) for s in samples]
    with atomic_file(bundled.REFERENCE) as tmp, open(tmp, "wb") as file:
        np.savez_compressed(
            file,
            names=np.array(names),
            waveforms=np.stack(samples),
            face_float=np.stack([o["face_float"] for o in outputs]),
            face=np.stack([o["face"] for o in outputs]),
        )
    summary = {
        "model": str(bundled.MODEL.relative_to(ROOT)),
        "size_bytes": bundled.MODEL.stat().st_size,
        "reference_clips": names,
        "from": str(version),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
