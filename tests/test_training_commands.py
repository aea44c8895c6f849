"""`s2f pretrain-voice` then `s2f train` in one work directory: which options each may change.

(`--cpu-replicas` from the command line, as a separate process, is the documented
`s2f train ... --cpu-replicas 2` of tests/test_documented_commands.py; a batch the replicas do not
divide is in tests/test_cli_errors.py.)"""

import json

from test_cli import own_lines


def test_training_options_are_free_until_the_stage_has_a_checkpoint(tiny_dataset, tmp_path, s2f):
    """pretrain-voice fixes what pretraining used (its own options, the networks, the audio) but not
    the GAN's options, which stay free until the first GAN checkpoint; a refusal names every differing
    field with the saved and the asked value."""
    data, _ = tiny_dataset
    workdir = tmp_path / "work"
    common = ["--data", data, "--workdir", workdir, "--preset", "tiny", "--no-progress"]
    run = s2f("pretrain-voice", *common, "--steps", "2", "--seed", "3")
    assert run.status == 0, run.err
    run = s2f("train", *common, "--steps", "2", "--batch-size", "8", "--seed", "5")
    assert run.status == 0, run.err
    assert run.summary["global_batch_size"] == 8
    saved = json.loads((workdir / "config.json").read_text())
    assert saved["train"]["batch_size"] == 8 and saved["train"]["seed"] == 5
    assert saved["pretrain"]["seed"] == 3  # --seed of train is the GAN's seed

    config = workdir / "config.json"
    run = s2f("train", *common, "--steps", "4", "--batch-size", "4", "--seed", "6")
    assert (run.status, run.out) == (2, "")
    assert own_lines(run.err) == [
        f"s2f train: error: {config}: train.batch_size is 8 there, 4 asked; train.seed is 5 there,"
        f" 6 asked (fixed since the first GAN checkpoint in {workdir / 'checkpoints'}); use a new"
        " --workdir, or the saved values to resume"
    ]
    run = s2f("pretrain-voice", *common, "--steps", "4", "--batch-size", "2", "--seed", "3")
    assert run.status == 2
    assert own_lines(run.err) == [
        f"s2f pretrain-voice: error: {config}: pretrain.batch_size is 4 there, 2 asked (fixed since"
        f" the first pretraining checkpoint in {workdir / 'pretrain'}); use a new --workdir, or"
        " the saved values to resume"
    ]
    # Longer training and the step's runtime switches stay free; the saved seed is kept unasked; what
    # a killed checkpoint save left (TensorFlow's ckpt-N_temp/) is removed.
    (workdir / "checkpoints" / "ckpt-3_temp").mkdir()
    (workdir / "checkpoints" / "ckpt-3_temp" / "part-00000-of-00001.index").write_bytes(b"x")
    run = s2f("train", *common, "--steps", "3", "--batch-size", "8", "--features-on", "pipeline")
    assert run.status == 0, run.err
    assert json.loads(config.read_text())["train"]["seed"] == 5
    assert sorted(p.name for p in (workdir / "checkpoints").glob("ckpt-3*")) == [
        "ckpt-3.data-00000-of-00001",
        "ckpt-3.index",
    ]
