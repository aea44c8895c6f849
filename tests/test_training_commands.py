"""`s2f pretrain-voice` and `s2f train` as a user runs them: separate processes, their devices and the
work directory's configuration between the two commands."""

import json

from conftest import s2f_process
from test_cli import own_lines


def _train_argv(data, workdir, encoder, *extra):
    argv = ["train", "--data", data, "--workdir", workdir, "--preset", "tiny", "--encoder", encoder]
    return [*argv, "--steps", "2", "--no-progress", *extra]


def test_cpu_replicas_work_from_the_command_line(tiny_dataset, tmp_path):
    """--cpu-replicas in a fresh process (in-process tests configure the devices first, which hid that
    the command touched TensorFlow before it split the CPU); a batch the replicas do not divide is one
    line naming both."""
    data, encoder = tiny_dataset
    good = s2f_process(
        *_train_argv(data, tmp_path / "w2", encoder, "--batch-size", "4", "--cpu-replicas", "2")
    )
    odd = s2f_process(
        *_train_argv(data, tmp_path / "w5", encoder, "--batch-size", "5", "--cpu-replicas", "2")
    )
    out, err = good.communicate(timeout=300)
    assert good.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["replicas"] == 2 and summary["global_batch_size"] == 4 and summary["steps"] == 2
    out, err = odd.communicate(timeout=300)
    assert odd.returncode == 2 and out == ""
    assert own_lines(err) == [
        "s2f train: error: --batch-size 5 is not divisible by the 2 replicas (--cpu-replicas 2);"
        " use a multiple of 2"
    ]
    assert not (tmp_path / "w5").exists()  # refused before the work directory was made
