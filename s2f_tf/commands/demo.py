"""`s2f demo`: the whole path on the embedded synthetic corpus, each stage through its own command.

synth -> prepare -> pretrain-voice -> train -> evaluate -> export -> generate. Every stage resumes or skips
what is already done, so an interrupted demo continues where it stopped.
"""

HELP = (
    "run synth -> prepare -> pretrain-voice -> train -> evaluate -> export -> generate end to end"
)


KEPT = "every finished stage is kept; rerun s2f demo to continue where it stopped"


def add_arguments(parser):
    from s2f_tf.commands.argtypes import COUNT, SEED, path

    parser.add_argument(
        "--out", type=path, default="demo_out", help="working folder (default: demo_out)"
    )
    parser.add_argument(
        "--models",
        type=path,
        default="savedmodels/s2f_demo",
        help="model base path for the export (default: savedmodels/s2f_demo)",
    )
    parser.add_argument("--preset", default="small", help="configuration preset (default: small)")
    parser.add_argument("--identities", type=COUNT, default=120, help="synthetic identities")
    parser.add_argument("--utterances", type=COUNT, default=20, help="utterances per identity")
    parser.add_argument("--faces", type=COUNT, default=20, help="faces per identity")
    parser.add_argument("--pretrain-steps", type=COUNT, help="default: the preset's")
    parser.add_argument("--train-steps", type=COUNT, help="default: the preset's")
    parser.add_argument(
        "--classifier-steps",
        type=COUNT,
        default=300,
        help="steps of evaluate's judging classifiers",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_bfloat16"),
        default="auto",
        help="GAN training precision (auto: mixed_bfloat16 where the CPU/GPU runs bf16 natively)",
    )
    parser.add_argument("--skip-evaluate", action="store_true", help="no evaluation report")
    parser.add_argument("--seed", type=SEED, default=0, help="corpus seed")


def _stage(name, argv):
    """Run one `s2f` sub-command in this process; print and return its summary."""
    import json

    from s2f_tf.cli import build_parser

    print(f"\n=== s2f {name} {' '.join(argv)}", flush=True)
    args = build_parser({name: _module(name)}).parse_args([name, *argv])
    summary = args._run(args)
    print(json.dumps(summary, sort_keys=True, default=str), flush=True)
    return summary


def _module(name):
    from s2f_tf.cli import COMMANDS

    return COMMANDS[name]


def _heldout_wavs(corpus, data, count=8):
    """One recording of each of up to `count` identities that training never saw (the test split)."""
    from pathlib import Path

    from s2f_tf.data.info import load_info

    info = load_info(data)
    wavs = []
    for name in info.names("test")[:count]:
        voxceleb_id = info.identities[name]["id"]
        found = sorted((Path(corpus) / "wav" / voxceleb_id).rglob("*.wav"))
        if found:
            wavs.append(str(found[0]))
    return wavs


def _mixed_precision(precision: str) -> bool:
    if precision == "auto":
        from s2f_tf.train.builder import fast_bfloat16

        return fast_bfloat16()
    return precision == "mixed_bfloat16"


def _seconds(summary):
    for key in ("seconds", "elapsed_s", "seconds_this_run"):
        if key in summary:
            return summary[key]
    return None


def run(args):
    import time
    from pathlib import Path

    from s2f_tf.config import preset
    from s2f_tf.errors import S2FError

    preset(args.preset)  # an unknown name fails here, before minutes of synth and prepare
    started = time.perf_counter()
    out = Path(args.out)
    corpus, data, work = out / "corpus", out / "data", out / "workdir"
    summary = {}
    for name, argv in _training_stages(args, out, corpus, data, work):
        summary[name] = _stage(name, argv)
    wavs = _heldout_wavs(corpus, data)
    if not wavs:
        raise S2FError(f"{data}: no held-out test identities to draw faces for")
    from s2f_tf import workdir as wd
    from s2f_tf.evaluate.report import REPORT

    version_dir = summary["export"]["saved_model"]["path"]
    grid = out / "faces_heldout.png"
    summary["generate"] = _stage(
        "generate", ["--model", str(version_dir), "--wav", *wavs, "--out", str(grid)]
    )
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "faces_png": str(grid),
        "samples": str(work / wd.SAMPLES),
        "evaluation": None if args.skip_evaluate else str(out / "evaluation" / REPORT),
        "savedmodel": str(version_dir),
        "tflite": {k: v["path"] for k, v in summary["export"]["tflite"].items()},
        "tensorboard": f"tensorboard --logdir {work / 'logs'}",
        "stages": {k: _seconds(v) for k, v in summary.items() if v},
    }


def _training_stages(args, out, corpus, data, work):
    """(command, arguments) of each stage from synth to export; synth only without a corpus."""
    if not (corpus / "vox1_meta.csv").is_file():
        yield "synth", _flags(out=corpus, identities=args.identities, seed=args.seed,
                              utterances=args.utterances, faces=args.faces)  # fmt: skip
    yield "prepare", _flags(meta=corpus / "vox1_meta.csv", voices=corpus / "wav",
                            faces=corpus / "faces", out=data)  # fmt: skip
    common = _flags(data=data, workdir=work, preset=args.preset)
    yield "pretrain-voice", common + _flags(steps=args.pretrain_steps)
    train = common + _flags(steps=args.train_steps)
    if _mixed_precision(args.precision):
        train.append("--mixed-precision")
    yield "train", train
    if not args.skip_evaluate:
        yield "evaluate", _flags(data=data, workdir=work, out=out / "evaluation",
                                 classifier_steps=args.classifier_steps)  # fmt: skip
    yield "export", _flags(workdir=work, out=args.models)


def _flags(**values) -> list[str]:
    """`--name value` arguments (underscores become dashes), in order; None values are left out."""
    argv = []
    for name, value in values.items():
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv
