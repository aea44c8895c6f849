"""benchmarks/gpu_check.py in its CPU-sized mode: the GPU check must run the day a GPU is at hand.

The script runs in this process (TensorFlow already has the two logical CPUs of conftest), builds its own
tiny corpus and writes its JSON report; every configuration must train and the export must be timed.
"""

import importlib.util
import json
from pathlib import Path

import pytest

from s2f_tf.data import info, pipeline

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(gpu_check, tmp_path, *args):
    out = tmp_path / "gpu_check.json"
    cache = pipeline.FEATURE_CACHE_BYTES
    assert gpu_check.main(["--cpu", "--out", str(out), *args]) == 0
    assert pipeline.FEATURE_CACHE_BYTES == cache  # the streaming switch is undone
    return json.loads(out.read_text())


def _check_trained(record, replicas):
    assert record["status"] == "ok", record.get("error")
    assert record["replicas"] == replicas and len(record["devices"]) == replicas
    assert record["per_replica_batch"] * replicas == record["global_batch"]
    assert record["steps"] >= 2 and record["steps_per_s"] > 0
    assert record["samples_per_s"] == pytest.approx(
        record["steps_per_s"] * record["global_batch"], rel=0.01
    )
    assert 0 <= record["input_wait_share"] < 1 and record["host_cpu_s_per_step"] > 0
    assert record["traces"] == 1  # one trace for every crop length
    assert record["first_step_s"] > 0 and record["peak_memory_bytes"] is None  # no allocator stats
    assert set(record["losses"]) >= {"loss/d_adversarial", "loss/g_adversarial"}


def test_cpu_mode_trains_both_featurisations_on_one_and_two_replicas(gpu_check, tmp_path, capsys):
    report = _run(gpu_check, tmp_path)
    assert report["mode"] == "cpu" and report["preset"] == "tiny"
    assert report["data"]["built"] and report["data"]["adjusted"] == {}
    assert report["settings"]["pipeline_features"] == "streamed"
    records = {r["name"]: r for r in report["configs"]}
    assert list(records) == ["device-fp32", "pipeline-bf16-2rep-b4"]
    _check_trained(records["device-fp32"], 1)
    _check_trained(records["pipeline-bf16-2rep-b4"], 2)
    assert records["device-fp32"]["crop_frames"] == [20, 40]
    assert report["failed"] == [] and report["speedups"] == []
    inference = report["inference"]
    assert inference["parity_max_abs_diff"]["serving_default"] <= 1e-4
    assert [row["seconds"] for row in inference["latency"]] == [1, 3, 10]
    for row in inference["latency"]:
        assert row["device"] == "CPU:0" and row["face_shape"] == [1, 64, 64, 3]
        assert 0 < row["median_ms"] <= row["p90_ms"]
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0].startswith("| config | rep | batch |")
    assert json.loads(printed[-1])["configs"] == report["configs"]


@pytest.mark.slow
def test_cpu_mode_xla_with_a_fixed_crop_and_a_failing_config(gpu_check, tmp_path):
    """XLA compiles for ~15 CPU-s; a config that cannot run is reported and the run goes on."""
    report = _run(gpu_check, tmp_path, "--configs", "device-fp32-3rep-b4,device-bf16-xla")
    failed, xla = report["configs"]
    assert failed["status"] == "failed" and "3 replicas need 3 devices" in failed["error"]
    _check_trained(xla, 1)
    assert xla["crop_frames"] == [30, 30]  # the middle of tiny's 20-40
    assert report["failed"] == ["device-fp32-3rep-b4"]
    assert report["inference"] == {"error": "no one-device fp32 configuration trained"}


def test_names_speedups_and_table(gpu_check):
    spec = gpu_check.parse_spec("pipeline-bf16-xla-2rep-b256", 128)
    assert spec == {
        "name": "pipeline-bf16-xla-2rep-b256",
        "features": "pipeline",
        "precision": "bf16",
        "xla": True,
        "replicas": 2,
        "global_batch": 256,
    }
    assert gpu_check.parse_spec("device-fp32", 128)["global_batch"] == 128
    with pytest.raises(SystemExit):
        gpu_check.parse_spec("device-fp16", 128)
    one = {**gpu_check.parse_spec("device-bf16", 128), "status": "ok", "samples_per_s": 1000.0}
    two = {
        **gpu_check.parse_spec("device-bf16-2rep-b128", 128),
        "status": "ok",
        "samples_per_s": 1800.0,
    }
    oom = {**gpu_check.parse_spec("pipeline-fp32", 128), "status": "failed", "error": "OOM"}
    assert gpu_check.speedups([one, two, oom]) == [
        {"config": "device-bf16-2rep-b128", "over": "device-bf16", "samples_per_s_ratio": 1.8}
    ]
    text = gpu_check.table({"configs": [one, two, oom]})
    assert "| 1.80x | ok |" in text and "| failed: OOM |" in text


def test_crop_lengths_are_lowered_only_for_data_too_short(gpu_check, monkeypatch):
    from s2f_tf.config import preset

    class Info:
        def __init__(self, frames):
            self.frames = frames

        def split(self, name):
            return {"voice_frames": self.frames}

    config = preset("wen2019")
    monkeypatch.setattr(info, "load_info", lambda _: Info([1200] * 3))
    assert gpu_check.fit_config_to_data(config, "d") == (config, {}, 3)  # all of few are long
    monkeypatch.setattr(info, "load_info", lambda _: Info([500 + 10 * i for i in range(10)]))
    fitted, adjusted, usable = gpu_check.fit_config_to_data(config, "d")
    assert usable == 8 and fitted.audio.min_utterance_frames == 520  # the 8th longest
    assert (fitted.audio.train_min_frames, fitted.audio.train_max_frames) == (300, 520)
    assert adjusted == {
        "min_utterance_frames": {"preset": 800, "used": 520},
        "train_max_frames": {"preset": 800, "used": 520},
    }


def test_configurations_past_the_budget_are_skipped(gpu_check, tmp_path, capsys):
    report = _run(gpu_check, tmp_path, "--budget-s", "0.001", "--no-export")  # spent before any
    assert [r["status"] for r in report["configs"]] == ["skipped", "skipped"]
    assert report["failed"] == ["device-fp32", "pipeline-bf16-2rep-b4"]
    assert report["inference"] == {"skipped": "--no-export"}
    assert "| skipped: time budget spent |" in capsys.readouterr().out
