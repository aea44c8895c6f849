"""How every stage grows with the corpus: synth -> prepare -> pretrain start -> train -> evaluate -> export.

    python benchmarks/scale.py --sizes 80,313,1251 --root /tmp/scale [--utterances 8] [--faces 6]
        [--train-steps 3] [--pipeline-batches 20] [--out benchmarks/scale.json]

For each size (identities), in its own folder under --root (kept, so a rerun skips finished stages):
synthesise a corpus with VoxCeleb-like utterance lengths, prepare it, start `pretrain-voice` and `train`
on the `wen2019` preset (a few steps: the point is start-up, not learning), evaluate with the bounded
defaults (first run, which trains the judges, and a second run, which reuses them), evaluate everything
(`--max-utterances 0`), and export. Each stage runs as its own `s2f` process; the table gives its wall
time, the peak resident memory of its whole process tree (sampled every 0.1 s from /proc), the disk it
wrote, and what its JSON summary says about it. Then the input pipeline's CPU seconds per `wen2019` batch
(128 voices + 128 faces, no model) in each featurisation mode, from `voice_pipeline.pipeline_cost`.

Time to first step = the stage's wall time minus the time its loop reports (so: imports, reading the
dataset description, building the input pipeline and the models, restoring, the first traced step).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

S2F = [sys.executable, "-m", "s2f_tf.cli"]


def _tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants (from /proc)."""
    children = {}
    rss = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parent, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def _du(path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:
                pass
    return total


def run_stage(args, disk=None) -> dict:
    """Run one `s2f` command; its wall time, peak process-tree RSS, disk written and JSON summary."""
    before = _du(disk) if disk and Path(disk).exists() else 0
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(
        S2F + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = [0]

    def sample():
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss(process.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    summary = json.loads(lines[-1]) if lines and process.returncode == 0 else None
    if process.returncode != 0:
        print(f"  {args[0]} failed ({process.returncode}): {err.strip().splitlines()[-1:]}")
    return {
        "command": "s2f " + " ".join(args),
        "returncode": process.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),  # the stage's whole process tree (reaped children included)
        "load_avg": [round(load_before, 1), round(os.getloadavg()[0], 1)],  # 1-min, start and end
        "peak_rss_gb": round(peak[0] / 1e9, 2),
        "disk_gb": round((_du(disk) - before) / 1e9, 3) if disk else None,
        "summary": summary,
    }


class Stages:
    """Runs the stages of one size by name, each once: its record is kept as `root`/<name>.json and read
    back on a rerun; after the stage named --until, none runs. `results`: {name: record}, in order."""

    def __init__(self, root: Path, identities: int, until: str | None):
        self.root, self.identities, self.until = root, identities, until
        self.results = {}
        self.stopped = False  # --until: the named stage was the last one

    def __call__(self, name, argv, disk=None, skip_if=None):
        done = self.root / f"{name}.json"
        if self.stopped:
            return None
        if name == self.until:
            self.stopped = True
        if done.is_file():
            self.results[name] = json.loads(done.read_text())
            return self.results[name]
        if skip_if is not None and Path(skip_if).exists():
            raise SystemExit(f"{skip_if} exists but {done} does not: remove {self.root} and rerun")
        print(f"[{self.identities}] {name} ...", flush=True)
        self.results[name] = run_stage(argv, disk)
        done.write_text(json.dumps(self.results[name]))
        return self.results[name]


def data_stages(stage: Stages, corpus: Path, data: Path, options) -> None:
    """Synthesise the corpus and prepare it (at --workers-study identities, also on one worker)."""
    stage(
        "synth",
        ["synth", "--out", str(corpus), "--identities", str(stage.identities)]
        + ["--utterances", str(options.utterances), "--faces", str(options.faces)]
        + ["--lengths", "voxceleb", "--seed", "0"],
        disk=stage.root,
        skip_if=corpus,
    )
    stage(
        "prepare",
        ["prepare", "--meta", str(corpus / "vox1_meta.csv"), "--voices", str(corpus / "wav")]
        + ["--faces", str(corpus / "faces"), "--out", str(data), "--min-frames", "300"],
        disk=data,
    )
    if stage.identities == options.workers_study:  # utterances/s: one worker vs all cores (default)
        stage(
            "prepare_1_worker",
            ["prepare", "--meta", str(corpus / "vox1_meta.csv"), "--voices", str(corpus / "wav")]
            + ["--faces", str(corpus / "faces"), "--out", str(stage.root / "data_1_worker")]
            + ["--min-frames", "300", "--workers", "1"],
            disk=stage.root / "data_1_worker",
        )


def train_stages(stage: Stages, data: Path, workdir: Path, train_steps: int) -> None:
    """Start `pretrain-voice`, train --train-steps steps with the features in the input pipeline and
    on the device (each from scratch), then resume for one more step."""
    common = ["--data", str(data), "--workdir", str(workdir), "--preset", "wen2019"]
    stage("pretrain_start", ["pretrain-voice", *common, "--steps", "1", "--no-progress"])
    for mode in ("pipeline", "device"):  # each from scratch: same steps, same start
        if not (stage.root / f"train_{mode}.json").is_file():
            subprocess.run(["rm", "-rf", str(workdir / "checkpoints")], check=True)
        stage(
            f"train_{mode}",
            ["train", *common, "--steps", str(train_steps), "--no-progress", "--features-on", mode],
        )
    # Resume: the last run's checkpoint is restored, and one more step is trained.
    stage(
        "train_resume",
        ["train", *common, "--steps", str(train_steps + 1), "--no-progress"],
    )


def pipeline_rows(root: Path, data: Path, identities: int, options) -> list[dict]:
    """The input pipeline's cost per wen2019 batch in each featurisation mode, kept as
    `root`/pipeline.json and read back on a rerun."""
    if (root / "pipeline.json").is_file():
        return json.loads((root / "pipeline.json").read_text())
    from voice_pipeline import pipeline_cost

    print(f"[{identities}] input pipeline ...", flush=True)
    rows = pipeline_cost(
        str(data), "wen2019", 128, options.pipeline_warmup, options.pipeline_batches
    )
    rows = [
        {"mode": m, "wall_s_per_batch": w, "cpu_s_per_batch": c, "build_s": b}
        for m, w, c, b in rows
    ]
    (root / "pipeline.json").write_text(json.dumps(rows))
    return rows


def evaluate_stages(stage: Stages, data: Path, workdir: Path) -> None:
    """Evaluate twice with the bounded defaults (training the judges, then reusing them), evaluate
    everything, and export."""
    root = stage.root
    evaluate = ["evaluate", "--data", str(data), "--workdir", str(workdir), "--no-fid"]
    stage("evaluate_first", evaluate + ["--out", str(root / "eval1")])
    stage("evaluate_cached_judges", evaluate + ["--out", str(root / "eval2")])
    stage("evaluate_full", evaluate + ["--out", str(root / "eval_full"), "--full"])
    stage("export", ["export", "--workdir", str(workdir), "--out", str(root / "savedmodels")])


def one_size(root: Path, identities: int, options) -> dict:
    """Every stage of one size, in its folder `root`: {stage name: its record, "pipeline": [...]}."""
    root.mkdir(parents=True, exist_ok=True)
    corpus, data = root / "corpus", root / "data"
    workdir = root / "workdir"
    stage = Stages(root, identities, options.until)
    data_stages(stage, corpus, data, options)
    if stage.stopped:
        return stage.results
    train_stages(stage, data, workdir, options.train_steps)
    stage.results["pipeline"] = pipeline_rows(root, data, identities, options)
    if options.skip_evaluate:
        return stage.results
    evaluate_stages(stage, data, workdir)
    return stage.results


def _row(identities, name, r):
    s = r.get("summary") or {}
    extra = []
    if name == "prepare" and s:
        extra.append(f"{s.get('utterances_per_s')} utt/s, {s.get('workers')} workers")
        kept = s.get("utterances", {}).get("train")
        extra.append(f"{kept} train utterances")
    if name.startswith("train") and s:
        loop = s.get("seconds") or 0.0
        extra.append(
            f"time to first step {r['wall_s'] - loop - s.get('input_teardown_seconds', 0):.1f} s"
        )
        extra.append(
            f"{s.get('seconds_per_step')} s/step, teardown {s.get('input_teardown_seconds')} s"
        )
    if name.startswith("evaluate") and s:
        extra.append(f"judges {s.get('judges', '?')}")
    return (
        f"| {identities} | {name} | {r['wall_s']} | {r.get('cpu_s', '')} | {r['peak_rss_gb']} | "
        f"{r['disk_gb'] if r['disk_gb'] is not None else ''} | {r.get('load_avg', '')} | "
        f"{'; '.join(extra)} |"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="80,313,1251")
    parser.add_argument("--root", default="/tmp/s2f_scale")
    parser.add_argument("--utterances", type=int, default=8)
    parser.add_argument("--faces", type=int, default=6)
    parser.add_argument("--train-steps", type=int, default=3)
    parser.add_argument(
        "--workers-study", type=int, default=80, help="size at which prepare also runs on 1 worker"
    )
    parser.add_argument("--pipeline-warmup", type=int, default=25)
    parser.add_argument("--pipeline-batches", type=int, default=20)
    parser.add_argument("--out", default="benchmarks/scale.json")
    parser.add_argument("--skip-evaluate", action="store_true", help="stop after training")
    parser.add_argument("--until", help="stop each size after this stage (e.g. prepare)")
    options = parser.parse_args(argv)
    everything = {}
    for size in [int(s) for s in options.sizes.split(",")]:
        everything[size] = one_size(Path(options.root) / f"ids{size}", size, options)
        Path(options.out).write_text(json.dumps(everything, indent=1))
    print("\n| identities | stage | wall s | CPU s | peak RSS GB | disk GB | load avg | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for size, results in everything.items():
        for name, r in results.items():
            if name != "pipeline" and r is not None:
                print(_row(size, name, r))
    print("\n| identities | input pipeline, wen2019 batch 128+128 | wall s/batch | CPU s/batch |")
    print("|---|---|---|---|")
    for size, results in everything.items():
        for r in results.get("pipeline", []):
            print(
                f"| {size} | {r['mode']} | {r['wall_s_per_batch']:.4f} | {r['cpu_s_per_batch']:.4f} |"
            )


if __name__ == "__main__":
    main()
