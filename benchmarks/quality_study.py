"""wen2019 vs small vs hq128 on one synthetic corpus, each trained for the same wall-clock budget.

    python benchmarks/quality_study.py --out DIR [--budget 240] [--seeds 0 1]
        [--presets wen2019 small hq128] [--identities 120]

Stages, each skipped when its output exists (rerun to continue):
1. `s2f synth --lengths voxceleb` (VoxCeleb-like lengths: wen2019 trains only on utterances of >= 8 s)
   and `s2f prepare` twice, at 64 and at 128 px, of the same files (DIR/data64, DIR/data128).
2. Per seed, the voice encoders: `s2f pretrain-voice` for small (whose encoder hq128 shares: same
   widths, same audio settings) and for wen2019 (`--wen2019-pretrain-steps`, its preset's 20,000 steps
   being hours here). Pretraining is outside the budget.
3. Per preset and seed, `s2f train --mixed-precision --seed S --time-budget BUDGET` in DIR/runs/P_sS: every
   GAN gets the same wall-clock seconds of training (tracing included) on the same machine.
4. One `s2f evaluate` of every run on the 64-px data (the judges trained once; hq128's faces judged at
   64 px, downsampled), DIR/eval64, and hq128's own evaluation on the 128-px data, DIR/eval128_hq128_sS.
   The judges are the demo's (the small preset's face network, trained on the data's real faces).

`--last-weights` also judges the last weights of the runs that keep a generator average (copies with
`train.generator_ema` 0), in DIR/eval64_last.

Ablations of hq128 (`--presets hq128-noR1 ...`, see VARIANTS) train the same way into their own work
directories; `s2f evaluate --compare` then judges them with the same (cached) judges.

Prints a table of the runs (steps reached, seconds, load average) and writes DIR/study.json. Run it on
an otherwise idle machine: the budget is wall-clock time. `--tables` prints the metrics of an evaluation
per run and per preset (mean and range over the seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

S2F = [sys.executable, "-m", "s2f_tf"]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from hq128_study import HQ128_2026_11  # noqa: E402
from recipe_study import SMALL_2026_11  # noqa: E402

# Ablations of hq128 as it was until 2026-12 (benchmarks/hq128_study.py: HQ128_2026_11, with its 6,000
# steps): (base preset, config overrides); trained like the presets (`--presets NAME`).
_OLD = {"train": {**HQ128_2026_11["train"], "steps": 6000}}
_R1 = {"train": {**_OLD["train"], "r1_gamma": 1.0}}
VARIANTS = {
    "hq128-2026-11": ("hq128", _OLD),
    "hq128-R1": ("hq128", _R1),
    "hq128-R1-transpose": ("hq128", {**_R1, "model": {"generator_upsample": "transpose"}}),
    "hq128-noSN": ("hq128", {**_OLD, "model": {"spectral_norm": False}}),
    "hq128-bce": ("hq128", {"train": {**_OLD["train"], "adversarial_loss": "bce"}}),
    # the small preset as it was before its 2026-12 recipe (benchmarks/recipe_study.py)
    "small-2026-11": ("small", SMALL_2026_11),
}


def run(*args, log=None):
    """One s2f command; its last stdout line (the JSON summary) parsed."""
    command = [*S2F, *map(str, args)]
    print("$ s2f " + " ".join(map(str, args)), flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if log is not None:
        Path(log).write_text(done.stdout)
    if done.returncode != 0:
        sys.exit(f"s2f {args[0]} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def corpus(out: Path, identities: int):
    if not (out / "corpus" / "vox1_meta.csv").is_file():
        run("synth", "--out", out / "corpus", "--identities", identities, "--utterances", 20,
            "--faces", 20, "--seed", 0, "--lengths", "voxceleb")  # fmt: skip
    for size in (64, 128):
        data = out / f"data{size}"
        if not (data / "dataset.json").is_file():
            run("prepare", "--meta", out / "corpus" / "vox1_meta.csv", "--voices",
                out / "corpus" / "wav", "--faces", out / "corpus" / "faces", "--out", data,
                "--image-size", size)  # fmt: skip


def encoder(out: Path, preset: str, seed: int, steps: int | None) -> Path:
    """The pretrained voice encoder weights of `preset`'s voice side for `seed`."""
    workdir = out / "encoders" / f"{preset}_s{seed}"
    weights = workdir / "voice_encoder.weights.h5"
    if not weights.is_file():
        extra = ["--steps", steps] if steps else []
        run("pretrain-voice", "--data", out / "data64", "--workdir", workdir, "--preset", preset,
            "--seed", seed, "--no-progress", *extra)  # fmt: skip
    return weights


def train(out: Path, preset: str, seed: int, budget: float, weights: Path) -> dict:
    workdir = out / "runs" / f"{preset}_s{seed}"
    summary_path = workdir / "study_train.json"
    if summary_path.is_file():
        return json.loads(summary_path.read_text())
    base, overrides = VARIANTS.get(preset, (preset, None))
    data = out / ("data128" if base == "hq128" else "data64")
    chosen = ["--preset", base]
    if overrides:  # the variant's config.json, which `s2f train` then resumes from
        from s2f_tf.config import preset as named
        from s2f_tf.workdir import save_or_check_config

        config = (
            named(base).replace(**overrides).replace(pretrain={"seed": seed}, train={"seed": seed})
        )
        workdir.mkdir(parents=True, exist_ok=True)
        save_or_check_config(workdir, config.replace(train={"mixed_precision": True}))
        chosen = []
    load_before = os.getloadavg()
    summary = run("train", "--data", data, "--workdir", workdir, *chosen, "--seed", seed,
                  "--mixed-precision", "--time-budget", budget, "--encoder", weights,
                  "--no-progress")  # fmt: skip
    summary["loadavg_before"] = [round(x, 2) for x in load_before]
    summary["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    summary_path.write_text(json.dumps(summary, indent=2))
    return summary


def evaluate(out: Path, runs: list[Path], hq_runs: list[Path], name: str = "eval64"):
    target = out / name
    if not (target / "metrics.json").is_file():
        compare = ["--compare", *runs[1:]] if len(runs) > 1 else []
        run("evaluate", "--data", out / "data64", "--workdir", runs[0], "--out", target, *compare)
    for workdir in hq_runs:
        target = out / f"eval128_{workdir.name}"
        if not (target / "metrics.json").is_file():
            run("evaluate", "--data", out / "data128", "--workdir", workdir, "--out", target)


def last_weights(out: Path, runs: list[Path], name: str = "eval64_last"):
    """The same checkpoints judged with the generator average off: a copy of each work directory whose
    config has `train.generator_ema` > 0, with 0 in its config.json (DIR/runs_last/RUN_last), evaluated
    together in DIR/NAME with the same (cached) judges."""
    import shutil

    copies = []
    for workdir in runs:
        config = json.loads((workdir / "config.json").read_text())
        if not config["train"].get("generator_ema"):
            continue
        copy = out / "runs_last" / f"{workdir.name}_last"
        if not copy.is_dir():
            shutil.copytree(workdir, copy)
            config["train"]["generator_ema"] = 0.0
            (copy / "config.json").write_text(json.dumps(config, indent=2))
        copies.append(copy)
    if copies and not (out / name / "metrics.json").is_file():
        compare = ["--compare", *copies[1:]] if len(copies) > 1 else []
        run(
            "evaluate",
            "--data",
            out / "data64",
            "--workdir",
            copies[0],
            "--out",
            out / name,
            *compare,
        )


METRICS = [  # (key, split, label, percent?)
    ("matching", "unseen", "1:2 matching, unseen", True),
    ("gender_agreement", "unseen", "gender agreement, unseen", True),
    ("identity_top1", "train_heldout", "identity top-1, seen", True),
    ("fd_face_embedding", "unseen", "Fréchet distance, judge space", False),
    ("kid_face_embedding", "unseen", "KID, judge space", False),
    ("spectral_top_octave_ratio", "unseen", "top-octave power ratio", False),
]


def _value(split, key):
    entry = split.get(key) or {}
    return entry.get("value")


def tables(out: Path, name: str = "eval64") -> str:
    """Markdown: every evaluated run of DIR/NAME/metrics.json, then each preset's mean and range."""
    import numpy as np

    result = json.loads((out / name / "metrics.json").read_text())
    models = [result["model"], *result["compare"]]
    lines = ["| run | GAN steps | " + " | ".join(m[2] for m in METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]  # fmt: skip
    per_preset = {}
    for model in models:
        run_name = Path(model["workdir"]).name
        train_summary = Path(model["workdir"]) / "study_train.json"
        steps = json.loads(train_summary.read_text())["steps"] if train_summary.is_file() else "?"
        cells = []
        for key, split, _, percent in METRICS:
            value = _value(model["splits"][split]["trained"], key)
            per_preset.setdefault(run_name.rsplit("_s", 1)[0], {}).setdefault(key, []).append(value)
            cells.append(
                "-" if value is None else f"{100 * value:.1f} %" if percent else f"{value:.3g}"
            )
        lines.append(f"| {run_name} | {steps} | " + " | ".join(cells) + " |")
    lines += ["", "| preset (mean [min, max] over seeds) | " + " | ".join(m[2] for m in METRICS) + " |",
              "|---|" + "---|" * len(METRICS)]  # fmt: skip
    for preset, values in per_preset.items():
        cells = []
        for key, _, _, percent in METRICS:
            v = np.array([x for x in values[key] if x is not None], float) * (100 if percent else 1)
            unit = " %" if percent else ""
            spec = ".1f" if percent else ".3g"
            cells.append(
                "-"
                if not len(v)
                else f"{v.mean():{spec}}{unit} [{v.min():{spec}}, {v.max():{spec}}]"
            )
        lines.append(f"| {preset} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--budget", type=float, default=240.0, help="GAN training seconds per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument(
        "--presets",
        nargs="+",
        default=["wen2019", "small", "hq128"],
        help=f"presets or hq128 ablations ({', '.join(VARIANTS)})",
    )
    parser.add_argument("--identities", type=int, default=120)
    parser.add_argument("--wen2019-pretrain-steps", type=int, default=200)
    parser.add_argument("--skip-evaluate", action="store_true")
    parser.add_argument("--eval-name", default="eval64", help="DIR/NAME: the 64-px evaluation")
    parser.add_argument("--pretrain-only", action="store_true", help="stop after the encoders")
    parser.add_argument("--tables", action="store_true", help="only print DIR/EVAL-NAME's tables")
    parser.add_argument(
        "--last-weights",
        action="store_true",
        help="also judge the averaged runs' last weights (DIR/EVAL-NAME_last)",
    )
    args = parser.parse_args(argv)
    if args.tables:
        print(tables(args.out, args.eval_name))
        return

    started = time.perf_counter()
    corpus(args.out, args.identities)
    weights = {}  # every encoder first: the timed stage then runs back to back
    for seed in args.seeds:
        for preset in args.presets:
            voice = "wen2019" if preset == "wen2019" else "small"  # hq128 shares small's encoder
            steps = args.wen2019_pretrain_steps if voice == "wen2019" else None
            weights[preset, seed] = encoder(args.out, voice, seed, steps)
    if args.pretrain_only:
        return
    results = []
    for seed in args.seeds:
        for preset in args.presets:
            summary = train(args.out, preset, seed, args.budget, weights[preset, seed])
            results.append({"preset": preset, "seed": seed, **summary})
    # The first run evaluated sets the judges' architecture: the demo's (small), as in every report.
    runs = sorted(
        (Path(r["workdir"]) for r in results), key=lambda w: not w.name.startswith("small")
    )
    if not args.skip_evaluate:
        evaluate(args.out, runs, [w for w in runs if w.name.startswith("hq128_")], args.eval_name)
        if args.last_weights:
            last_weights(args.out, runs, f"{args.eval_name}_last")
    print("\n| run | GAN steps | seconds | s/step | stopped by | load before/after |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['preset']} seed {r['seed']} | {r['steps']} | {r['seconds']} |"
            f" {r['seconds_per_step']} | {r['stopped_by']} | {r['loadavg_before'][0]} /"
            f" {r['loadavg_after'][0]} |"
        )
    summary = {"runs": results, "budget": args.budget, "seconds": time.perf_counter() - started}
    (args.out / "study.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({"study": str(args.out / "study.json"), "runs": len(results)}))


if __name__ == "__main__":
    main()
