"""Recipe ablations at the demo's scale: variants of a preset trained on several corpus draws, judged together.

    python benchmarks/recipe_study.py --out DIR [--seeds 0 1 2] [--variants small small+resize ...]
        [--steps 1500] [--precision float32] [--tables] [--runs-only]

Each corpus seed S gets the demo's corpus and voice encoder, made by the demo's own commands (DIR/cS:
`s2f synth --identities 120 --utterances 20 --faces 20 --seed S`, `s2f prepare --preset small`,
`s2f pretrain-voice --preset small`), so every variant of a seed trains on the same data with the same
encoder. Each variant (VARIANTS: a base preset and config overrides) trains `--steps` steps with `s2f
train` into DIR/cS/runs/VARIANT, then one `s2f evaluate` per seed judges every variant of that seed
with the same judges, trials and galleries (DIR/cS/eval: the first variant is the evaluated model, the
others `--compare`d), as the demo evaluates (`--no-fid`, 300 classifier steps). Every stage is skipped
when its output exists: rerun to continue, add variants or seeds later (the evaluation is then redone).

`--tables` prints, per variant, the metrics that decide the demo's targets as mean [min, max] over the
seeds, and the seconds per training step each run measured (one run at a time; training steps of runs
made under other load are not comparable: `benchmarks/step_cost.py` times variants side by side).
Run it from a snapshot worktree of a commit (`PYTHONPATH` at that tree), on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

S2F = [sys.executable, "-m", "s2f_tf"]

# name -> (base preset, overrides of its config sections). Every "small..." variant starts from the small
# preset as it was before these studies (SMALL_2026_11: transposed convolutions, no spectral norm, learning
# rate 2e-4, no L1, no DiffAugment); "rla+sn+lr5e-4" is the small preset since 2026-12.
SMALL_2026_11 = {
    "model": {"generator_upsample": "transpose", "spectral_norm": False},
    "train": {"learning_rate": 2e-4, "reconstruction_weight": 0.0, "diff_augment": ""},
}
RESIZE = {"generator_upsample": "resize"}
SN = {"spectral_norm": True}
AUGMENT = "color,translation,cutout"
BEST = {"reconstruction_weight": 10.0, "diff_augment": AUGMENT}


def _on_2026_11(model=None, train=None) -> tuple[str, dict]:
    return "small", {
        "model": {**SMALL_2026_11["model"], **(model or {})},
        "train": {**SMALL_2026_11["train"], **(train or {})},
    }


VARIANTS = {
    "small": _on_2026_11(),
    "small+resize": _on_2026_11(RESIZE),
    "small+l1": _on_2026_11(train={"reconstruction_weight": 10.0}),
    "small+aug": _on_2026_11(train={"diff_augment": AUGMENT}),
    "small+resize+l1": _on_2026_11(RESIZE, {"reconstruction_weight": 10.0}),
    "small+resize+aug": _on_2026_11(RESIZE, {"diff_augment": AUGMENT}),
    "small+resize+l1+aug": _on_2026_11(RESIZE, BEST),
    "rla+lr5e-4": _on_2026_11(RESIZE, {**BEST, "learning_rate": 5e-4}),
    "rla+l1x30": _on_2026_11(RESIZE, {**BEST, "reconstruction_weight": 30.0}),
    "rla+hinge": _on_2026_11(RESIZE, {**BEST, "adversarial_loss": "hinge"}),
    "rla+sn": _on_2026_11({**RESIZE, **SN}, BEST),
    "rla+sn+lr5e-4": _on_2026_11({**RESIZE, **SN}, {**BEST, "learning_rate": 5e-4}),
    "rla+narrowD": _on_2026_11({**RESIZE, "face_channels": (8, 16, 32, 64, 128)}, BEST),
}

# (split, metric key, label) of the table.
HEADLINES = [
    ("unseen", "matching", "unseen 1:2"),
    ("unseen", "gender_agreement", "unseen gender"),
    ("train_heldout", "identity_top1", "seen top-1"),
    ("unseen", "fd_face_embedding", "unseen FD (judge)"),
    ("unseen", "kid_face_embedding", "unseen KID (judge)"),
    ("unseen", "spectral_top_octave_ratio", "unseen top-octave"),
    ("unseen", "cosine_same_identity", "unseen cosine"),
    ("unseen", "l1_pixels", "unseen L1"),
]


def run(*args, log: Path | None = None) -> dict:
    """One `s2f` command in its own process; its JSON summary (the last line of its output)."""
    print("$ s2f " + " ".join(map(str, args)), flush=True)
    done = subprocess.run([*S2F, *map(str, args)], stdout=subprocess.PIPE, text=True)
    if log is not None:
        log.write_text(done.stdout)
    if done.returncode != 0:
        sys.exit(f"s2f {args[0]} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def corpus(root: Path, seed: int) -> None:
    """The demo's corpus, prepared data and voice encoder for corpus seed `seed`, under `root`."""
    if not (root / "corpus" / "vox1_meta.csv").is_file():
        run("synth", "--out", root / "corpus", "--identities", 120, "--utterances", 20,
            "--faces", 20, "--seed", seed)  # fmt: skip
    if not (root / "data" / "dataset.json").is_file():
        run("prepare", "--meta", root / "corpus" / "vox1_meta.csv", "--voices",
            root / "corpus" / "wav", "--faces", root / "corpus" / "faces", "--out", root / "data",
            "--preset", "small")  # fmt: skip
    if not (root / "enc" / "voice_encoder.weights.h5").is_file():
        run("pretrain-voice", "--data", root / "data", "--workdir", root / "enc", "--preset",
            "small", "--no-progress")  # fmt: skip


def variant_config(name: str, precision: str):
    from s2f_tf.config import preset

    base, overrides = VARIANTS[name]
    config = preset(base).replace(**overrides) if overrides else preset(base)
    return config.replace(train={"mixed_precision": precision == "mixed_bfloat16"})


def train(root: Path, name: str, steps: int, precision: str) -> dict:
    """`s2f train` of variant `name` for `steps` steps (resumes; a finished run is read back)."""
    return train_config(root, name, variant_config(name, precision), steps)


def train_config(root: Path, name: str, config, steps: int, data: str = "data", args=()) -> dict:
    """`s2f train` of `config` for `steps` steps on ROOT/DATA in ROOT/runs/NAME with the corpus's voice
    encoder, and `args` (resumes; a finished run is read back). Its summary, with the wall time and the
    load average before and after, also kept in ROOT/runs/NAME/study_train.json."""
    from s2f_tf.workdir import save_or_check_config

    workdir = root / "runs" / name
    done = workdir / "study_train.json"
    if done.is_file():
        summary = json.loads(done.read_text())
        if summary.get("steps") == steps:
            return summary
    workdir.mkdir(parents=True, exist_ok=True)
    save_or_check_config(workdir, config.replace(train={"steps": steps}))
    load = os.getloadavg()
    started = time.perf_counter()
    summary = run("train", "--data", root / data, "--workdir", workdir, "--encoder",
                  root / "enc" / "voice_encoder.weights.h5", *args, "--no-progress")  # fmt: skip
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    summary["loadavg_before"] = [round(x, 2) for x in load]
    summary["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    done.write_text(json.dumps(summary, indent=2))
    return summary


def evaluate(root: Path, names: list[str], data: str = "data", evaluation: str = "eval") -> dict:
    """One evaluation of every variant of this seed on ROOT/DATA into ROOT/EVALUATION (redone when the
    variant list changed)."""
    out = root / evaluation
    listed = out / "study_variants.json"
    if (out / "metrics.json").is_file() and listed.is_file():
        if json.loads(listed.read_text()) == names:
            return json.loads((out / "metrics.json").read_text())
    runs = [root / "runs" / n for n in names]
    compare = ["--compare", *runs[1:]] if len(runs) > 1 else []
    run("evaluate", "--data", root / data, "--workdir", runs[0], "--out", out, "--no-fid",
        *compare)  # fmt: skip
    listed.write_text(json.dumps(names))
    return json.loads((out / "metrics.json").read_text())


def model_metrics(metrics: dict) -> dict:
    """{model name: {split: {metric: value}}} of an evaluation's metrics.json (trained weights)."""
    models = [metrics["model"], *(c for c in metrics.get("compare", []) if "splits" in c)]
    found = {}
    for model in models:
        found[model["name"]] = {
            split: {k: v.get("value") if isinstance(v, dict) else v
                    for k, v in entry.get("trained", {}).items()}
            for split, entry in model["splits"].items()
        }  # fmt: skip
    return found


def tables(out: Path, seeds: list[int], names: list[str], evaluation: str = "eval") -> dict:
    """The headline table of `names` over `seeds`, from each seed's evaluation folder `evaluation`."""
    per_variant = {n: {label: [] for _, _, label in HEADLINES} | {"s/step": []} for n in names}
    for seed in seeds:
        root = out / f"c{seed}"
        metrics_path = root / evaluation / "metrics.json"
        if not metrics_path.is_file():
            continue
        found = model_metrics(json.loads(metrics_path.read_text()))
        for name in names:
            for split, key, label in HEADLINES:
                value = found.get(name, {}).get(split, {}).get(key)
                if value is not None:
                    per_variant[name][label].append(value)
            summary = root / "runs" / name / "study_train.json"
            if summary.is_file():
                s = json.loads(summary.read_text())
                if s.get("seconds_per_step"):
                    per_variant[name]["s/step"].append(s["seconds_per_step"])
    labels = [label for _, _, label in HEADLINES] + ["s/step"]
    print(f"\n{len(seeds)} corpus seeds {seeds}: mean [min, max]")
    print("| variant | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for name in names:
        cells = []
        for label in labels:
            values = per_variant[name][label]
            if not values:
                cells.append("-")
                continue
            pct = label in ("unseen 1:2", "unseen gender", "seen top-1")
            f = (lambda v: f"{100 * v:.1f}") if pct else (lambda v: f"{v:.3g}")
            cells.append(f"{f(statistics.mean(values))} [{f(min(values))}, {f(max(values))}]")
        print(f"| {name} | " + " | ".join(cells) + " |")
    attribute_table(out, seeds, names, evaluation)
    return per_variant


def attribute_table(
    out: Path, seeds: list[int], names: list[str], evaluation: str = "eval"
) -> None:
    """Per face attribute: how often a variant's face for an unseen voice shows the identity's attribute,
    beside the oracle (the attribute predicted from the voice latents), the judge on real faces and
    chance, mean [min, max] over the seeds (percent)."""
    rows = {}  # (attribute, column) -> [values]
    for seed in seeds:
        path = out / f"c{seed}" / evaluation / "metrics.json"
        if not path.is_file():
            continue
        metrics = json.loads(path.read_text())
        models = [metrics["model"], *(c for c in metrics.get("compare", []) if "splits" in c)]
        for model in models:
            found = model["splits"].get("unseen", {}).get("trained", {}).get("attributes", {})
            for attribute, entry in found.items():
                rows.setdefault((attribute, model["name"]), []).append(entry["value"])
                if model is models[0]:
                    for column, value in (("oracle", entry["oracle"]["value"]),
                                          ("real faces", entry["real_faces"]["value"]),
                                          ("chance", entry["chance"])):  # fmt: skip
                        rows.setdefault((attribute, column), []).append(value)
    attributes = sorted({a for a, _ in rows})
    if not attributes:
        return
    columns = [*names, "oracle", "real faces", "chance"]
    print("\nunseen identities, attribute agreement (percent), mean [min, max]")
    print("| attribute | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for attribute in attributes:
        cells = []
        for column in columns:
            values = rows.get((attribute, column), [])
            cells.append(
                f"{100 * statistics.mean(values):.1f} [{100 * min(values):.1f}, {100 * max(values):.1f}]"
                if values
                else "-"
            )
        print(f"| {attribute} | " + " | ".join(cells) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32")
    parser.add_argument("--tables", action="store_true", help="only print the tables")
    parser.add_argument("--runs-only", action="store_true", help="train, do not evaluate")
    args = parser.parse_args(argv)
    if not args.tables:
        for seed in args.seeds:
            root = args.out / f"c{seed}"
            corpus(root, seed)
            for name in args.variants:
                train(root, name, args.steps, args.precision)
            if not args.runs_only:
                evaluate(root, args.variants)
    summary = tables(args.out, args.seeds, args.variants)
    print(json.dumps({"recipe_study": summary}))


if __name__ == "__main__":
    main()
