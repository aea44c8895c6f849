"""`s2f demo` end to end on a tiny corpus: every stage runs and every promised file appears."""

import json
from pathlib import Path

import pytest
from PIL import Image

from s2f_tf.cli import main
from s2f_tf.data.info import load_info


@pytest.mark.slow
def test_demo_runs_every_stage_and_resumes(tmp_path, capsys):
    argv = [
        "demo", "--out", str(tmp_path / "demo"), "--models", str(tmp_path / "models" / "s2f_tiny"),
        "--preset", "tiny", "--identities", "8", "--utterances", "3", "--faces", "3",
        "--pretrain-steps", "4", "--train-steps", "4", "--classifier-steps", "5",
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed.strip().splitlines()[-1])
    # The first faces are on disk, and their path printed, before evaluation starts: real | generated
    # for each held-out test identity.
    faces_line = printed.index(f"(real | generated): {summary['faces_png']}")
    assert faces_line < printed.index("=== s2f evaluate")
    # The demo's evaluation leaves FID/KID out (minutes of InceptionV3 on 2 cores) unless --fid.
    evaluate_line = printed[printed.index("=== s2f evaluate") :].splitlines()[0]
    assert evaluate_line.endswith(" --no-fid")
    test_ids = len(load_info(tmp_path / "demo" / "data").names("test"))
    with Image.open(summary["faces_png"]) as image:  # figures.face_grid: 150 px labels, 2x faces
        assert image.size == (150 + 2 * (128 + 4), 36 + min(8, test_ids) * (128 + 4))
    report = Path(summary["evaluation"]).read_text()
    assert report.startswith("# s2f_tiny: evaluation (tiny preset, ckpt-")
    assert "issue 6" not in report
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
    assert main([*argv[:-4], "--train-steps", "6", *argv[-2:]]) == 0
    longer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert longer["skipped"] == [] and Path(longer["savedmodel"]).name == "2"
