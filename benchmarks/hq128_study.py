"""hq128 variants at a fixed number of steps on several corpus draws, judged natively at 128 px.

    python benchmarks/hq128_study.py --out DIR [--seeds 0 1 2] [--variants hq128-2026-11 hq128]
        [--steps 2000] [--checkpoints 1500] [--tables]

Each corpus seed S (DIR/cS): `s2f synth --identities 120 --utterances 20 --faces 20 --seed S --lengths
voxceleb`, `s2f prepare` at 64 and at 128 px of the same files, and `s2f pretrain-voice --preset small`
on the 64-px data (hq128 shares small's voice encoder). Each variant (VARIANTS) trains `--steps` steps
in mixed bfloat16 precision with `s2f train --seed S` into DIR/cS/runs/VARIANT; one `s2f evaluate` per
seed on the 128-px data judges every variant with the same judges (DIR/cS/eval128, `--no-fid`), and
each variant's checkpoints at `--checkpoints` steps beside them (as NAME@STEP: a copy of the work
directory holding only that checkpoint; training keeps the last three, 250 steps apart). Every stage is
skipped when its output exists. `--tables` prints recipe_study's tables (mean [min, max]).
Run it from a snapshot worktree of a commit, with `PYTHONPATH` at that tree.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recipe_study import evaluate, run, tables, train_config  # noqa: E402

# hq128 as it was until 2026-12: 6,000 steps (cut to --steps here), the constant-momentum generator
# average, no L1, no DiffAugment, learning rate 2e-4.
HQ128_2026_11 = {
    "train": {
        "generator_ema_warmup": False,
        "learning_rate": 2e-4,
        "reconstruction_weight": 0.0,
        "diff_augment": "",
    }
}
VARIANTS = {
    "hq128-2026-11": HQ128_2026_11,
    "hq128": {},  # since 2026-12: small's recipe (warm-up average, L1, DiffAugment, lr 5e-4)
}


def corpus(root: Path, seed: int) -> None:
    if not (root / "corpus" / "vox1_meta.csv").is_file():
        run("synth", "--out", root / "corpus", "--identities", 120, "--utterances", 20, "--faces", 20,
            "--seed", seed, "--lengths", "voxceleb")  # fmt: skip
    for size in (64, 128):
        if not (root / f"data{size}" / "dataset.json").is_file():
            run("prepare", "--meta", root / "corpus" / "vox1_meta.csv", "--voices", root / "corpus" / "wav",
                "--faces", root / "corpus" / "faces", "--out", root / f"data{size}", "--image-size",
                size)  # fmt: skip
    if not (root / "enc" / "voice_encoder.weights.h5").is_file():
        run("pretrain-voice", "--data", root / "data64", "--workdir", root / "enc", "--preset", "small",
            "--seed", seed, "--no-progress")  # fmt: skip


def train(root: Path, seed: int, name: str, steps: int) -> dict:
    """`s2f train --seed SEED` of variant `name` on the 128-px data, in mixed bfloat16."""
    from s2f_tf.config import preset

    config = preset("hq128").replace(**VARIANTS[name]) if VARIANTS[name] else preset("hq128")
    config = config.replace(train={"mixed_precision": True})
    return train_config(root, name, config, steps, data="data128", args=("--seed", seed))


def at_step(root: Path, name: str, step: int) -> str:
    """RUNS/NAME@STEP: RUNS/NAME's files with only its checkpoint of step `step` (the one evaluation
    reads); its study_train.json counts `step` steps. The copy's name."""
    source, copy = root / "runs" / name, root / "runs" / f"{name}@{step}"
    if not (copy / "study_train.json").is_file():
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(
            source, copy, ignore=shutil.ignore_patterns("checkpoints", "logs", "samples")
        )
        (copy / "checkpoints").mkdir()
        found = list((source / "checkpoints").glob(f"ckpt-{step}.*"))
        if not found:
            sys.exit(f"{source}/checkpoints has no checkpoint of step {step}")
        for path in found:
            shutil.copy2(path, copy / "checkpoints" / path.name)
        summary = json.loads((source / "study_train.json").read_text())
        summary["steps_judged"] = step
        (copy / "study_train.json").write_text(json.dumps(summary, indent=2))
    return copy.name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--variants", nargs="+", default=["hq128-2026-11", "hq128"], choices=list(VARIANTS)
    )
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--checkpoints", type=int, nargs="*", default=[], help="steps also judged")
    parser.add_argument(
        "--tables", action="store_true", help="only print the tables of what exists"
    )
    args = parser.parse_args(argv)
    if not args.tables:
        for seed in args.seeds:
            root = args.out / f"c{seed}"
            corpus(root, seed)
            for name in args.variants:
                train(root, seed, name, args.steps)
            names = args.variants + [
                at_step(root, n, step) for n in args.variants for step in args.checkpoints
            ]
            evaluate(root, names, data="data128", evaluation="eval128")
    names = args.variants + [f"{n}@{step}" for n in args.variants for step in args.checkpoints]
    tables(args.out, args.seeds, names, "eval128")


if __name__ == "__main__":
    main()
