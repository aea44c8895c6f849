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

Prints a table of the runs (steps reached, seconds, load average) and writes DIR/study.json. Run it on
an otherwise idle machine: the budget is wall-clock time.
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
    data = out / ("data128" if preset == "hq128" else "data64")
    load_before = os.getloadavg()
    summary = run("train", "--data", data, "--workdir", workdir, "--preset", preset, "--seed", seed,
                  "--mixed-precision", "--time-budget", budget, "--encoder", weights,
                  "--no-progress")  # fmt: skip
    summary["loadavg_before"] = [round(x, 2) for x in load_before]
    summary["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    summary_path.write_text(json.dumps(summary, indent=2))
    return summary


def evaluate(out: Path, runs: list[Path], hq_runs: list[Path]):
    if not (out / "eval64" / "metrics.json").is_file():
        run("evaluate", "--data", out / "data64", "--workdir", runs[0], "--out", out / "eval64",
            "--compare", *runs[1:])  # fmt: skip
    for workdir in hq_runs:
        target = out / f"eval128_{workdir.name}"
        if not (target / "metrics.json").is_file():
            run("evaluate", "--data", out / "data128", "--workdir", workdir, "--out", target)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--budget", type=float, default=240.0, help="GAN training seconds per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--presets", nargs="+", default=["wen2019", "small", "hq128"])
    parser.add_argument("--identities", type=int, default=120)
    parser.add_argument("--wen2019-pretrain-steps", type=int, default=200)
    parser.add_argument("--skip-evaluate", action="store_true")
    parser.add_argument("--pretrain-only", action="store_true", help="stop after the encoders")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    corpus(args.out, args.identities)
    weights = {}  # every encoder first: the timed stage then runs back to back
    for seed in args.seeds:
        for preset in args.presets:
            voice = "wen2019" if preset == "wen2019" else "small"
            steps = args.wen2019_pretrain_steps if voice == "wen2019" else None
            weights[preset, seed] = encoder(args.out, voice, seed, steps)
    if args.pretrain_only:
        return
    results = []
    for seed in args.seeds:
        for preset in args.presets:
            summary = train(args.out, preset, seed, args.budget, weights[preset, seed])
            results.append({"preset": preset, "seed": seed, **summary})
    runs = [Path(r["workdir"]) for r in results]
    if not args.skip_evaluate:
        evaluate(args.out, runs, [w for w in runs if w.name.startswith("hq128")])
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
