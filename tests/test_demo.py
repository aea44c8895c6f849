"""`s2f demo` end to end on a tiny corpus: every stage runs and every promised file appears."""

import json
from pathlib import Path

import pytest

from s2f_tf.cli import main


@pytest.mark.slow
def test_demo_runs_every_stage_and_resumes(tmp_path, capsys):
    argv = [
        "demo", "--out", str(tmp_path / "demo"), "--models", str(tmp_path / "models" / "s2f_tiny"),
        "--preset", "tiny", "--identities", "8", "--utterances", "3", "--faces", "3",
        "--pretrain-steps", "4", "--train-steps", "4", "--classifier-steps", "5",
    ]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert Path(summary["faces_png"]).stat().st_size > 1000
    assert Path(summary["evaluation"]).is_file()
    version = Path(summary["savedmodel"])
    assert version.name == "1" and (version / "saved_model.pb").is_file()
    assert sorted(summary["tflite"]) == ["fp16", "fp32", "int8"]
    assert all(Path(p).is_file() for p in summary["tflite"].values())
    assert set(summary["stages"]) == {
        "synth", "prepare", "pretrain-voice", "train", "evaluate", "export", "generate"
    }  # fmt: skip
    # A second run skips the corpus, reuses shards and checkpoints, and exports version 2.
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "synth" not in again["stages"] and Path(again["savedmodel"]).name == "2"
