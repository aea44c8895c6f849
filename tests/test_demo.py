"""`s2f demo` end to end on a tiny corpus: every stage runs and every promised file appears."""

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from conftest import TINY_DEMO
from PIL import Image

from s2f_tf.cli import main
from s2f_tf.data.info import load_info


@pytest.mark.slow
def test_demo_runs_every_stage_and_resumes(tiny_demo, tmp_path, capsys, monkeypatch):
    """The first run is `tiny_demo`'s (a separate process, shared with the documented command lines'
    test); the reruns run here, on a copy of its folder."""
    folder, run = tiny_demo
    assert run.status == 0, run.err
    printed, summary = run.out, run.summary
    monkeypatch.chdir(shutil.copytree(folder, tmp_path / "copy"))
    argv = shlex.split(TINY_DEMO)
    # The first faces are on disk, and their path printed, before evaluation starts: real | generated
    # for each held-out test identity.
    faces_line = printed.index(f"(real | generated): {summary['faces_png']}")
    assert faces_line < printed.index("=== s2f evaluate")
    # The demo's evaluation leaves FID/KID out (minutes of InceptionV3 on 2 cores) unless --fid.
    evaluate_line = printed[printed.index("=== s2f evaluate") :].splitlines()[0]
    assert evaluate_line.endswith(" --no-fid")
    test_ids = len(load_info("demo_out/data").names("test"))
    with Image.open(summary["faces_png"]) as image:  # figures.face_grid: 150 px labels, 2x faces
        assert image.size == (150 + 2 * (128 + 4), 36 + min(8, test_ids) * (128 + 4))
    report = Path(summary["evaluation"]).read_text()
    assert report.startswith("# s2f_demo: evaluation (tiny preset, ckpt-")
    assert not re.search(r"(?i)\bissue\s*#?\d", report)  # no tracker wording
    version = Path(summary["savedmodel"])
    assert version.name == "1" and (version / "saved_model.pb").is_file()
    assert sorted(summary["tflite"]) == ["fp16", "fp32", "int8"]
    assert all(Path(p).is_file() for p in summary["tflite"].values())
    assert summary["precision"] in ("float32", "mixed_bfloat16")
    assert summary["chosen_by"].startswith("auto: ")
    # What ran: conftest imports s2f_tf before TensorFlow, as a user's `s2f` does.
    assert summary["cpu_kernels"]["onednn"] is (
        summary["cpu_kernels"]["TF_ENABLE_ONEDNN_OPTS"] != "0"
    )
    stages = {"synth", "prepare", "pretrain-voice", "train", "export", "generate", "evaluate"}
    assert set(summary["stages"]) == stages | {"total"}
    assert all(isinstance(seconds, float) for seconds in summary["stages"].values())
    assert summary["stages"]["evaluate"] > 0 and summary["skipped"] == []
    # A second run skips the corpus, reuses shards and checkpoints, and with the checkpoint unchanged
    # skips evaluation and export too (saying so).
    assert main(argv) == 0
    printed = capsys.readouterr().out
    again = json.loads(printed.strip().splitlines()[-1])
    assert "synth" not in again["stages"] and sorted(again["skipped"]) == ["evaluate", "export"]
    assert "=== s2f export: skipped, ckpt-4 unchanged" in printed
    assert Path(again["savedmodel"]).name == "1"
    # Training further makes a new checkpoint: evaluated and exported again (version 2).
    assert main([*argv, "--train-steps", "6"]) == 0  # the last --train-steps counts
    longer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert longer["skipped"] == [] and Path(longer["savedmodel"]).name == "2"


def test_an_evaluation_with_fid_counts_for_one_without(tmp_path, monkeypatch):
    """`s2f demo` evaluates without FID and `s2f demo --seed-tables` with it, on the same model and
    folder: the one with FID did all the other asks, so it counts as done; not the other way round."""
    from s2f_tf.commands import stages as run_stages

    ran = []

    def stage(name, argv, timings=None, label=None):
        ran.append(argv)
        (tmp_path / "evaluation").mkdir(exist_ok=True)
        return {"out": str(tmp_path / "evaluation")}

    monkeypatch.setattr(run_stages, "stage", stage)
    work = tmp_path / "workdir"
    with_fid = ["--data", "d", "--workdir", str(work), "--out", str(tmp_path / "evaluation")]
    without = [*with_fid, "--no-fid"]
    done = lambda summary: Path(summary["out"]).is_dir()  # noqa: E731
    for first, then, runs in ((with_fid, without, 1), (without, with_fid, 2)):
        ran.clear()
        (tmp_path / "stages.json").unlink(missing_ok=True)
        for argv in (first, then):
            run_stages.Stages(tmp_path, {}).run("evaluate", argv, [work], done)
        assert len(ran) == runs, ran
