"""Every `s2f` sub-command against bad arguments and bad files: one line on stderr, the right exit status.

The table is run in-process (`cli.main`, fast); a few cases run as real processes to show that no
traceback reaches standard error, including on a full disk (RLIMIT_FSIZE, as `ulimit -f`).
"""

import json
import os
import shutil

import keras
import numpy as np
import pytest
import soundfile
import tensorflow as tf
from conftest import s2f_process
from random_workdir import write_random_workdir
from test_cli import own_lines

from s2f_tf import cli
from s2f_tf.config import preset
from s2f_tf.data.info import FORMAT
from s2f_tf.errors import BAD_INPUT, FAILED, S2FError, describe


def _tiny_savedmodel(path):
    """A SavedModel with a `serving_default(waveform)` endpoint: enough for `s2f generate` to load."""
    dense = keras.layers.Dense(3)
    dense.build((None, 1))
    archive = keras.export.ExportArchive()
    archive.add_endpoint(
        "serving_default",
        lambda waveform: {"face": dense(tf.reduce_mean(waveform, axis=1, keepdims=True))},
        input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveform")],
    )
    archive.write_out(str(path), verbose=False)
    return path


def _dataset_json(path, **changes):
    """A dataset.json that `load_info` accepts (no shards: every case below fails before reading any)."""
    split = {
        "names": ["Fay_A"],
        "num_classes": 1,
        "genders": ["f"],
        "voxceleb_ids": ["id1"],
        "voice_shards": [],
        "face_shards": [],
        "face_split": "train",
    }
    data = {
        "format": FORMAT,
        "splits": {"train": split},
        "num_classes": 1,
        "image_size": 64,
        "sample_rate": 16000,
        "min_frames": 40,
        "identities": {"Fay_A": {"id": "id1", "gender": "f"}},
        "options": {},
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path.mkdir(parents=True, exist_ok=True)
    (path / "dataset.json").write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    p = {"root": root}
    p["file"] = root / "plain.txt"
    p["file"].write_text("not a directory\n")
    p["dir_png"] = root / "faces.png"
    p["dir_png"].mkdir()
    p["nonempty"] = root / "nonempty"
    p["nonempty"].mkdir()
    (p["nonempty"] / "keep.txt").write_text("x")

    # Audio.
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 16000).astype(np.float32)
    p["wav"] = root / "voice.wav"
    soundfile.write(p["wav"], tone, 16000, subtype="PCM_16")
    p["nan_wav"] = root / "nan.wav"
    soundfile.write(p["nan_wav"], np.where(np.arange(8000) == 4000, np.nan, tone), 16000, "FLOAT")
    p["inf_wav"] = root / "inf.wav"
    soundfile.write(p["inf_wav"], np.where(np.arange(8000) == 10, -np.inf, tone), 16000, "FLOAT")
    p["empty_wav"] = root / "empty.wav"
    p["empty_wav"].write_bytes(b"")

    # Models: a loadable SavedModel, one with its variables cut short, a TFLite
    # file of random bytes and a SavedModel folder without saved_model.pb.
    p["savedmodel"] = _tiny_savedmodel(root / "models" / "ok" / "1")
    p["cut_savedmodel"] = root / "models" / "cut" / "1"
    shutil.copytree(p["savedmodel"], p["cut_savedmodel"])
    for data in (p["cut_savedmodel"] / "variables").glob("variables.data-*"):
        data.write_bytes(data.read_bytes()[:20])
    p["garbage_tflite"] = root / "garbage.tflite"
    p["garbage_tflite"].write_bytes(np.random.default_rng(0).bytes(5000))
    p["no_model"] = root / "models" / "empty"
    p["no_model"].mkdir()

    # Work directories: a good one, and damaged copies.
    p["workdir"] = write_random_workdir(root / "work", preset("tiny"), seed=0)
    for name in ("cut_config", "edited_config", "typed_config", "cut_weights", "outside_ckpt"):
        p[name] = root / name
        shutil.copytree(p["workdir"], p[name])
    config = p["workdir"] / "config.json"
    (p["cut_config"] / "config.json").write_text(config.read_text()[:100])
    edited = json.loads(config.read_text())
    edited["train"]["batch_sise"] = 8  # a typo
    (p["edited_config"] / "config.json").write_text(json.dumps(edited))
    edited = json.loads(config.read_text())
    edited["train"]["batch_size"] = "64"
    (p["typed_config"] / "config.json").write_text(json.dumps(edited))
    weights = p["cut_weights"] / "voice_encoder.weights.h5"
    weights.write_bytes(weights.read_bytes()[:300])
    outside = root / "elsewhere"  # a readable checkpoint, but outside the work directory
    shutil.copytree(p["workdir"] / "checkpoints", outside)
    latest = tf.train.latest_checkpoint(str(outside))
    (p["outside_ckpt"] / "checkpoints" / "checkpoint").write_text(
        f'model_checkpoint_path: "{latest}"\nall_model_checkpoint_paths: "{latest}"\n'
    )

    # Datasets (dataset.json only).
    p["data"] = _dataset_json(root / "data")
    p["data_32px"] = _dataset_json(root / "data_32px", image_size=32)
    p["data_no_classes"] = _dataset_json(root / "data_no_classes", num_classes=None)
    (root / "stolen.tfrecord").write_bytes(b"")
    escape = {**_split_with_shard("../stolen.tfrecord")}
    p["data_escape"] = _dataset_json(root / "data_escape", splits={"train": escape})
    p["data_garbage"] = root / "data_garbage"
    p["data_garbage"].mkdir()
    (p["data_garbage"] / "dataset.json").write_bytes(b"\x00\xff{{{")
    p["data_unsafe_id"] = _dataset_json(
        root / "data_unsafe_id", identities={"Fay_A": {"id": "../../etc", "gender": "f"}}
    )

    # prepare inputs.
    p["voices"], p["faces"] = root / "voices", root / "faces"
    p["voices"].mkdir()
    p["faces"].mkdir()
    p["meta"] = root / "meta.csv"
    p["meta"].write_text(
        "VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet\nid1\tFay_A\tf\tX\tdev\n"
    )
    p["meta_escape"] = root / "meta_escape.csv"
    p["meta_escape"].write_text("id1\t../../etc\tm\tX\tdev\n../..\tBob_B\tm\tX\tdev\n")
    p["meta_binary"] = root / "meta.bin"
    p["meta_binary"].write_bytes(bytes(range(256)) * 4)

    p["pth"] = root / "voice.pth"
    p["pth"].write_bytes(b"not a torch file")
    return {key: str(value) for key, value in p.items()}


def _split_with_shard(shard):
    return {
        "names": ["Fay_A"],
        "num_classes": 1,
        "genders": ["f"],
        "voxceleb_ids": ["id1"],
        "voice_shards": [shard],
        "face_shards": [],
        "face_split": "train",
    }


TRAINING = ("pretrain-voice", "train")
ENCODER = {"pretrain-voice": [], "train": ["--encoder", "{workdir}/voice_encoder.weights.h5"]}
NEW = "{root}/new"  # a path that does not exist yet

# (id, argv, exit status, text the one line must contain). `{name}` is a path from the fixture.
CASES = [
    # --- the command line itself
    ("no-command", [], 2, "required: COMMAND"),
    ("unknown-command", ["serve"], 2, "invalid choice: 'serve'"),
    # --- synth
    ("synth-zero-identities", ["synth", "--out", NEW, "--identities", "0"], 2, "at least 1"),
    (
        "synth-negative-seed",
        ["synth", "--out", NEW, "--seed", "-1"],
        2,
        "--seed: must be at least 0",
    ),
    ("synth-huge-seed", ["synth", "--out", NEW, "--seed", "99999999999"], 2, "at most"),
    ("synth-zero-workers", ["synth", "--out", NEW, "--workers", "0"], 2, "--workers"),
    ("synth-words", ["synth", "--out", NEW, "--faces", "many"], 2, "expected an integer"),
    ("synth-empty-out", ["synth", "--out", ""], 2, "expected a path"),
    ("synth-out-not-empty", ["synth", "--out", "{nonempty}"], 2, "exists and is not empty"),
    ("synth-out-is-file", ["synth", "--out", "{file}"], 2, "exists and is not empty"),
    # --- app (both refused before Gradio or the model is loaded)
    ("app-port-out-of-range", ["app", "--port", "70000"], 2, "must be 0 (a free port) to 65535"),
    ("app-negative-limit", ["app", "--max-seconds", "-1"], 2, "must be positive"),
    # --- prepare
    *[
        (
            f"prepare-{label}",
            [
                "prepare",
                "--meta",
                "{meta}",
                "--voices",
                "{voices}",
                "--faces",
                "{faces}",
                "--out",
                NEW,
                *extra,
            ],
            2,
            text,
        )
        for label, extra, text in [
            ("image-size-0", ["--image-size", "0"], "--image-size: invalid choice: 0"),
            ("image-size-65", ["--image-size", "65"], "invalid choice: 65"),
            (
                "size-not-the-presets",
                ["--preset", "hq128", "--image-size", "64"],
                "--image-size 64 but the hq128 preset trains on 128 px faces",
            ),
            ("preset-typo", ["--preset", "hq12"], "unknown preset 'hq12'"),
            ("fraction-1", ["--heldout-fraction", "1"], "must be less than 1"),
            ("fraction-nan", ["--heldout-fraction", "nan"], "finite"),
            ("fraction-negative", ["--heldout-fraction", "-0.1"], "at least 0"),
            ("min-frames-0", ["--min-frames", "0"], "--min-frames: must be at least 1"),
            ("workers-negative", ["--workers", "-2"], "--workers: must be at least 1"),
            ("split-file-missing", ["--split", "file"], "--split file needs --split-file"),
            (
                "split-file-absent",
                ["--split", "file", "--split-file", "{root}/none.txt"],
                "cannot read the split file",
            ),
        ]
    ],
    (
        "prepare-out-is-file",
        [
            "prepare",
            "--meta",
            "{meta}",
            "--voices",
            "{voices}",
            "--faces",
            "{faces}",
            "--out",
            "{file}",
        ],
        2,
        "exists and is not a directory",
    ),
    (
        "prepare-meta-missing",
        [
            "prepare",
            "--meta",
            "{root}/none.csv",
            "--voices",
            "{voices}",
            "--faces",
            "{faces}",
            "--out",
            NEW,
        ],
        2,
        "cannot read the meta file",
    ),
    (
        "prepare-meta-binary",
        [
            "prepare",
            "--meta",
            "{meta_binary}",
            "--voices",
            "{voices}",
            "--faces",
            "{faces}",
            "--out",
            NEW,
        ],
        2,
        "cannot read the meta file",
    ),
    (
        "prepare-meta-only-escapes",
        [
            "prepare",
            "--meta",
            "{meta_escape}",
            "--voices",
            "{voices}",
            "--faces",
            "{faces}",
            "--out",
            NEW,
        ],
        2,
        "no identities",
    ),
    (
        "prepare-voices-is-file",
        ["prepare", "--meta", "{meta}", "--voices", "{file}", "--faces", "{faces}", "--out", NEW],
        2,
        "--voices",
    ),
    (
        "prepare-nothing-joins",
        ["prepare", "--meta", "{meta}", "--voices", "{voices}", "--faces", "{faces}", "--out", NEW],
        2,
        "no training identities",
    ),
    # --- pretrain-voice and train: arguments, datasets, work directories
    *[
        (f"{cmd}-{label}", [cmd, "--data", "{data}", "--workdir", NEW, *extra], 2, text)
        for cmd in TRAINING
        for label, extra, text in [
            ("steps-0", ["--steps", "0"], "--steps: must be at least 1"),
            ("batch-negative", ["--batch-size", "-3"], "--batch-size: must be at least 1"),
            ("cpu-replicas-negative", ["--cpu-replicas", "-1"], "--cpu-replicas: must be at least"),
            ("cpu-replicas-huge", ["--cpu-replicas", "100000"], "--cpu-replicas: must be at most"),
            ("strategy-typo", ["--strategy", "mirror"], "invalid choice: 'mirror'"),
            ("preset-typo", ["--preset", "tiyn"], "unknown preset 'tiyn'"),
            ("seed-negative", ["--seed", "-1"], "--seed: must be at least 0"),
            (
                "batch-not-divisible",
                ["--preset", "tiny", "--batch-size", "5", "--cpu-replicas", "2"],
                "--batch-size 5 is not divisible by the 2 replicas (--cpu-replicas 2); use a"
                " multiple of 2",
            ),
            # 64-px faces to a 128-px preset
            (
                "data-64px-to-hq128",
                ["--preset", "tiny128"],
                "faces are 64 px but the tiny128 preset"
                " generates 128 px; prepare with --image-size 128",
            ),
        ]
    ],
    *[
        (
            f"{cmd}-{label}",
            [cmd, "--data", data, "--workdir", workdir, "--preset", "tiny", *ENCODER[cmd]],
            2,
            text,
        )
        for cmd in TRAINING
        for label, data, workdir, text in [
            ("data-missing", "{root}/none", NEW, "no dataset.json"),
            ("data-is-file", "{file}", NEW, "not a directory"),
            ("data-garbage", "{data_garbage}", NEW, "dataset.json: unreadable"),
            ("data-edited", "{data_no_classes}", NEW, "damaged or edited"),
            ("data-shard-escapes", "{data_escape}", NEW, "is outside"),
            ("data-unsafe-id", "{data_unsafe_id}", NEW, "unsafe name or id"),
            ("data-other-size", "{data_32px}", NEW, "faces are 32 px"),
            ("workdir-is-file", "{data}", "{file}", "not a directory"),
        ]
    ],
    *[
        (f"{cmd}-{label}", [cmd, "--data", "{data}", "--workdir", workdir], 2, text)
        for cmd in TRAINING
        for label, workdir, text in [
            ("config-cut-short", "{cut_config}", "config.json: not a valid s2f configuration"),
            ("config-typo", "{edited_config}", "unknown TrainConfig fields: ['batch_sise']"),
            ("config-wrong-type", "{typed_config}", "train.batch_size is '64', expected int"),
        ]
    ],
    (
        "train-encoder-missing",
        ["train", "--data", "{data}", "--workdir", NEW, "--preset", "tiny"],
        2,
        "no voice encoder weights",
    ),
    *[
        (
            f"train-encoder-{label}",
            ["train", "--data", "{data}", "--workdir", NEW]
            + ["--preset", preset_name, "--encoder", weights],
            2,
            f"not voice encoder weights for the {preset_name} preset",
        )
        for label, preset_name, weights in [
            ("cut-short", "tiny", "{cut_weights}/voice_encoder.weights.h5"),
            ("of-another-preset", "small", "{workdir}/voice_encoder.weights.h5"),
        ]
    ],
    # --- evaluate
    *[
        (
            f"evaluate-{label}",
            ["evaluate", "--data", "{data}", "--workdir", "{workdir}", *extra],
            2,
            text,
        )
        for label, extra, text in [
            ("classifier-steps-0", ["--classifier-steps", "0"], "--classifier-steps: must be"),
            ("gallery-0", ["--gallery-size", "0"], "--gallery-size: must be at least 1"),
            ("max-utterances-negative", ["--max-utterances", "-1"], "--max-utterances: must be"),
            ("max-faces-negative", ["--max-faces", "-3"], "--max-faces: must be at least 0"),
            ("seed-negative", ["--seed", "-5"], "--seed: must be at least 0"),
            ("split-typo", ["--split", "tets"], "invalid choice: 'tets'"),
            ("out-is-file", ["--out", "{file}"], "exists and is not a directory"),
            (
                "compare-missing",
                ["--compare", "{root}/none"],
                "none: neither a work directory nor an evaluate output",
            ),
        ]
    ],
    (
        "evaluate-data-missing",
        ["evaluate", "--data", "{root}/none", "--workdir", "{workdir}"],
        2,
        "no such dataset directory",
    ),
    (
        "evaluate-workdir-missing",
        ["evaluate", "--data", "{data}", "--workdir", "{root}/none"],
        2,
        "no such work directory",
    ),
    # --- export
    *[
        (f"export-{label}", ["export", "--workdir", workdir, "--out", out, *extra], 2, text)
        for label, workdir, out, extra, text in [
            ("version-negative", "{workdir}", NEW, ["--version", "-1"], "--version: must be"),
            ("tolerance-0", "{workdir}", NEW, ["--tolerance", "0"], "greater than 0"),
            ("tolerance-inf", "{workdir}", NEW, ["--tolerance", "inf"], "finite"),
            ("tflite-typo", "{workdir}", NEW, ["--tflite", "int4"], "invalid choice: 'int4'"),
            ("name-with-space", "{workdir}", "{root}/my model", [], "last path component"),
            ("not-a-workdir", "{root}", NEW, [], "no config.json"),
            ("config-cut-short", "{cut_config}", NEW, [], "not a valid s2f configuration"),
            ("weights-cut-short", "{cut_weights}", NEW, [], "unreadable voice encoder weights"),
            ("checkpoint-elsewhere", "{outside_ckpt}", NEW, [], "outside the checkpoint directory"),
        ]
    ],
    # --- generate (--out a directory or a file; cut-short models)
    *[
        (
            f"generate-{label}",
            ["generate", "--model", model, "--wav", *wavs, "--out", out, *extra],
            2,
            text,
        )
        for label, model, wavs, out, extra, text in [
            ("out-is-directory", "{savedmodel}", ["{wav}"], "{dir_png}", [], "is a directory"),
            (
                "separate-out-is-file",
                "{savedmodel}",
                ["{wav}"],
                "{file}",
                ["--separate"],
                "exists and is not a directory",
            ),
            ("out-below-file", "{savedmodel}", ["{wav}"], "{file}/x.png", [], "is not a directory"),
            ("out-not-png", "{savedmodel}", ["{wav}"], "{root}/face.jpg", [], "written as .png"),
            ("out-empty", "{savedmodel}", ["{wav}"], "", [], "expected a path"),
            ("no-wav", "{savedmodel}", [], "{root}/f.png", [], "no input files"),
            ("wav-nan", "{savedmodel}", ["{nan_wav}"], "{root}/f.png", [], "NaN or infinite"),
            ("wav-inf", "{savedmodel}", ["{inf_wav}"], "{root}/f.png", [], "NaN or infinite"),
            (
                "wav-empty-file",
                "{savedmodel}",
                ["{empty_wav}"],
                "{root}/f.png",
                [],
                "not a readable",
            ),
            ("wav-is-directory", "{savedmodel}", ["{root}"], "{root}/f.png", [], "no such file"),
            ("model-missing", "{root}/none", ["{wav}"], "{root}/f.png", [], "no such model"),
            (
                "model-cut-short",
                "{cut_savedmodel}",
                ["{wav}"],
                "{root}/f.png",
                [],
                "not a loadable SavedModel",
            ),
            (
                "model-garbage-tflite",
                "{garbage_tflite}",
                ["{wav}"],
                "{root}/f.png",
                [],
                "not a usable TFLite model",
            ),
            (
                "model-empty-folder",
                "{no_model}",
                ["{wav}"],
                "{root}/f.png",
                [],
                "no saved_model.pb",
            ),
            ("model-is-audio", "{wav}", ["{wav}"], "{root}/f.png", [], "not a .tflite file"),
        ]
    ],
    # --- import-torch, info, demo
    (
        "import-torch-seed",
        [
            "import-torch",
            "--voice",
            "{pth}",
            "--generator",
            "{pth}",
            "--workdir",
            NEW,
            "--seed",
            "-1",
        ],
        2,
        "--seed: must be at least 0",
    ),
    (
        "import-torch-missing",
        ["import-torch", "--voice", "{root}/none.pth", "--generator", "{pth}", "--workdir", NEW],
        2,
        "none.pth: no such file",
    ),
    *[
        (
            f"import-torch-{label}",
            ["import-torch", "--voice", "{pth}", "--generator", "{pth}", "--workdir", NEW, *extra],
            2,
            text,
        )
        for label, extra, text in [
            ("preset", ["--preset", "big"], "unknown preset 'big'"),
            (
                "hq128",
                ["--preset", "hq128"],
                "the hq128 preset is not the reference architecture (128 px faces, resize"
                " upsampling)",
            ),
        ]
    ],
    (
        "train-time-budget-0",
        ["train", "--data", "{data}", "--workdir", NEW, "--time-budget", "0"],
        2,
        "--time-budget: must be greater than 0",
    ),
    ("info-classes-0", ["info", "--classes", "0"], 2, "--classes: must be at least 1, got 0"),
    ("info-preset", ["info", "--preset", "nope"], 2, "unknown preset 'nope'"),
    ("demo-identities-0", ["demo", "--out", NEW, "--identities", "0"], 2, "at least 1"),
    ("demo-preset", ["demo", "--out", NEW, "--preset", "huge"], 2, "unknown preset 'huge'"),
    ("demo-train-steps", ["demo", "--out", NEW, "--train-steps", "-5"], 2, "--train-steps"),
    (
        "demo-seed-tables-preset",
        ["demo", "--seed-tables", "--out", NEW, "--preset", "huge"],
        2,
        "unknown preset 'huge'",
    ),
    (
        "demo-seed-tables-skip-evaluate",
        ["demo", "--seed-tables", "--skip-evaluate", "--out", NEW],
        2,
        "--skip-evaluate: the seed tables are evaluations",
    ),
]


@pytest.mark.parametrize("argv, status, text", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_arguments_and_files_are_one_line(argv, status, text, paths, s2f):
    argv = [arg.format(**paths) for arg in argv]
    code, out, err = s2f(*argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == status, err
    assert len(lines) == 1, err
    command = next((a for a in argv if not a.startswith("-")), None)
    assert lines[0].startswith(
        f"s2f {command}: error: " if command in cli.COMMANDS else "s2f: error:"
    )
    assert text in lines[0]
    assert "Traceback" not in err and out == ""
    assert not os.path.exists(paths["root"] + "/new")  # nothing was created for a refused run


def test_every_command_is_in_the_table():
    covered = {next((a for a in c[1] if not a.startswith("-")), None) for c in CASES}
    assert set(cli.COMMANDS) <= covered


def test_debug_shows_the_traceback(paths, s2f, monkeypatch):
    argv = ["generate", "--model", paths["cut_savedmodel"], "--wav", paths["wav"], "--out", "x.png"]
    code, _, err = s2f("--debug", *argv)
    assert code == 2 and "Traceback" in err
    assert err.strip().splitlines()[-1].startswith("s2f generate: error:")
    code, _, err = s2f(*argv, "--debug")  # after the command too
    assert code == 2 and "Traceback" in err
    monkeypatch.setenv("S2F_DEBUG", "1")
    code, _, err = s2f(*argv)
    assert code == 2 and "Traceback" in err
    monkeypatch.setenv("S2F_DEBUG", "0")
    code, _, err = s2f(*argv)
    assert code == 2 and "Traceback" not in err


def test_bad_tf_config_is_one_line(paths, s2f, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    argv = ["pretrain-voice", "--data", paths["data"], "--workdir", paths["root"] + "/new"]
    code, _, err = s2f(*argv)
    assert code == 2 and err.strip() == (
        "s2f pretrain-voice: error: TF_CONFIG is not valid JSON with a cluster and a task"
    )


def test_unexpected_errors_are_one_line_with_a_hint(paths, s2f, monkeypatch):
    from s2f_tf.commands import info

    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setattr(info, "run", broken)
    code, out, err = s2f("info")
    assert code == FAILED and out == ""
    assert err.strip() == (
        "s2f info: error: unexpected KeyError: 'a bug' (rerun with --debug (or S2F_DEBUG=1) for"
        " the traceback)"
    )


@pytest.mark.parametrize(
    "error, message, status",
    [
        (S2FError("bad input"), "bad input", BAD_INPUT),
        (OSError(28, "No space left on device", "out/x.png"), "out of disk space", FAILED),
        (OSError(27, "File too large"), "out of disk space (File too large)", FAILED),
        (
            tf.errors.OutOfRangeError(
                None, None, "{{function_node SaveV2}} v/part-0.data; File too large [Op:SaveV2]"
            ),
            "out of disk space (File too large); kept",
            FAILED,
        ),
        (
            RuntimeError("h5py: Can't write data (errno = 28, No space left on device)"),
            "out of disk space (No space left on device); kept",
            FAILED,
        ),
        (
            tf.errors.DataLossError(None, None, "truncated record at 0 [Op:IteratorGetNext]"),
            "a file it reads is damaged (truncated record at 0 [Op:IteratorGetNext]); write it again",
            BAD_INPUT,
        ),
        (PermissionError(13, "Permission denied", "/root/x"), "/root/x: Permission denied", 2),
        (OSError(5, "Input/output error"), "I/O error: [Errno 5] Input/output error; kept", 1),
    ],
)
def test_describe(error, message, status):
    text, code = describe(error, kept="kept")
    assert message in text and code == status
    assert "\n" not in text and "{{" not in text


def test_a_real_process_prints_one_line_and_no_traceback(paths):
    cases = [
        (
            [
                "generate",
                "--model",
                paths["savedmodel"],
                "--wav",
                paths["wav"],
                "--out",
                paths["dir_png"],
            ],
            "s2f generate: error: --out",
        ),
        (
            [
                "train",
                "--data",
                paths["data"],
                "--workdir",
                paths["root"] + "/new",
                "--cpu-replicas",
                "-1",
            ],
            "s2f train: error: argument --cpu-replicas: must be at least 1, got -1",
        ),
        (
            ["export", "--workdir", paths["cut_weights"], "--out", paths["root"] + "/new"],
            "s2f export: error:",
        ),
    ]
    processes = [s2f_process(*argv) for argv, _ in cases]
    for process, (_, start) in zip(processes, cases, strict=True):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 2, err
        assert out == "" and "Traceback" not in err
        lines = own_lines(err)
        assert len(lines) == 1 and lines[0].startswith(start), err
