"""`s2f demo`: the whole path on the embedded synthetic corpus, each stage through its own command.

synth -> prepare -> pretrain-voice -> train -> export -> generate (the first faces, real beside generated)
-> evaluate. Every stage resumes or skips what is already done, so an interrupted demo continues where it
stopped; evaluation and export are skipped when the checkpoint (and their arguments) did not change since
they last ran (recorded in OUT/stages.json). `--seed-tables` runs the seed report's three models instead
(`s2f_tf.commands.seed_tables`).
"""

HELP = (
    "run synth -> prepare -> pretrain-voice -> train -> export -> generate -> evaluate end to end"
    " (--seed-tables: the seed report's general, female and male models and its tables)"
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
    parser.add_argument(
        "--seed-tables",
        action="store_true",
        help="instead of the demo: train the seed report's general, female and male models on the corpus"
        " and write its Table 2 (FID/KID, L1, cosine) and Table 1 (true | reconstructed faces) to"
        " OUT/seed_tables/ (the general model is the demo's: a finished demo is reused)",
    )
    parser.add_argument("--seed", type=SEED, default=0, help="corpus seed")


def _stage(name, argv, timings=None, label=None):
    """Run one `s2f` sub-command in this process; print and return its summary (its wall time, in
    seconds, goes to `timings[label or name]`)."""
    import json
    import time

    from s2f_tf.cli import build_parser

    print(f"\n=== s2f {name} {' '.join(argv)}", flush=True)
    started = time.perf_counter()
    args = build_parser({name: _module(name)}).parse_args([name, *argv])
    summary = args._run(args)
    if timings is not None:
        timings[label or name] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary, sort_keys=True, default=str), flush=True)
    return summary


def checkpoint_state(workdirs) -> list:
    """What evaluation and export read from each work directory, identified: the latest GAN checkpoint
    and the latest pretraining checkpoint (the voice encoder's weights are written from it, again on
    every pretrain-voice run), each by its path and the size and modification time of its index file (a
    checkpoint retrained to the same step differs)."""
    import os

    from s2f_tf import workdir as wd

    state = []
    for workdir in workdirs:
        for kind in (wd.CHECKPOINTS, wd.PRETRAIN_CHECKPOINTS):
            checkpoint = wd.latest_checkpoint(workdir, kind)
            index = f"{checkpoint}.index" if checkpoint else ""
            found = os.stat(index) if os.path.isfile(index) else None
            state.append([checkpoint, found and found.st_size, found and found.st_mtime_ns])
    return state


class Stages:
    """OUT/stages.json: for the stages that only read a checkpoint (evaluate, export), the checkpoints
    and arguments they last ran with and their summaries, so a rerun with nothing changed skips them."""

    FILE = "stages.json"

    def __init__(self, out, timings):
        import json
        from pathlib import Path

        self.path = Path(out) / self.FILE
        self.timings = timings
        self.skipped = []
        try:
            self.done = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.done = {}
        if not isinstance(self.done, dict):  # an edited file: forget it, run everything
            self.done = {}

    @staticmethod
    def _reusable(earlier, state, still_there) -> bool:
        try:
            return earlier["checkpoints"] == state and bool(still_there(earlier["summary"]))
        except (KeyError, TypeError):  # an entry of another shape: run the stage
            return False

    def run(self, name, argv, workdirs, still_there, label=None):
        """`_stage(name, argv)` unless it ran with these arguments on these same checkpoints and
        `still_there(summary)` (its outputs were not removed); the summary either way."""
        from s2f_tf.files import atomic_write_json

        key = f"{name} {' '.join(argv)}"
        state = checkpoint_state(workdirs)
        earlier = self.done.get(key)
        if self._reusable(earlier, state, still_there):
            checkpoint = state[0][0].rsplit("/", 1)[-1] if state and state[0][0] else "?"
            print(
                f"\n=== s2f {name}: skipped, {checkpoint} unchanged since it last ran", flush=True
            )
            self.timings[label or name] = 0.0
            self.skipped.append(label or name)
            return earlier["summary"]
        summary = _stage(name, argv, self.timings, label)
        self.done[key] = {"checkpoints": state, "summary": summary}
        atomic_write_json(self.path, self.done)
        return summary


def _module(name):
    from s2f_tf.cli import COMMANDS

    return COMMANDS[name]


def heldout_voices(corpus, data, count=8):
    """(name, gender, first recording) of up to `count` identities that training never saw (the test
    split), for the identities that have a recording."""
    from pathlib import Path

    from s2f_tf.data.info import load_info

    info = load_info(data)
    voices = []
    for name in info.names("test")[:count]:
        identity = info.identities[name]
        found = sorted((Path(corpus) / "wav" / identity["id"]).rglob("*.wav"))
        if found:
            voices.append((name, identity.get("gender", "?"), str(found[0])))
    return voices


def real_face(corpus, name, size):
    """The first photo of `name` in the corpus, uint8 [size, size, 3] (None if there is none)."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    photos = sorted(p for p in (Path(corpus) / "faces" / name).glob("*") if p.is_file())
    if not photos:
        return None
    with Image.open(photos[0]) as image:
        return np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR), np.uint8)


def faces_figure(corpus, voices, images, path, title):
    """Real face | generated face per held-out identity, as one PNG at `path`."""
    import numpy as np
    from PIL import Image

    from s2f_tf.evaluate.figures import face_grid
    from s2f_tf.files import atomic_write_bytes
    from s2f_tf.images import png_bytes

    rows = []
    for (name, gender, _), image in zip(voices, images, strict=True):
        with Image.open(image) as picture:
            generated = np.asarray(picture.convert("RGB"), np.uint8)
        rows.append(
            (f"{name} ({gender})", real_face(corpus, name, generated.shape[0]), [generated])
        )
    atomic_write_bytes(path, png_bytes(np.asarray(face_grid(rows, title))))
    return path


def first_faces(corpus, data, version_dir, path, timings):
    """`s2f generate` on one recording of each held-out test identity (PNGs in a folder beside `path`),
    then `path`: each identity's real face beside its generated one; the path is printed."""
    from s2f_tf.errors import S2FError

    voices = heldout_voices(corpus, data)
    if not voices:
        raise S2FError(f"{data}: no held-out test identities to draw faces for")
    generated = _stage(
        "generate",
        ["--model", str(version_dir), "--wav", *(v[2] for v in voices), "--separate",
         "--out", str(path.with_suffix(""))],
        timings,
    )  # fmt: skip
    faces_figure(
        corpus, voices, generated["images"], path,
        f"{len(voices)} {'identity' if len(voices) == 1 else 'identities'} never seen in training:"
        " real face | face from one recording",
    )  # fmt: skip
    print(f"\nfaces of unseen identities (real | generated): {path}", flush=True)
    return path


def precision_choice(precision: str) -> dict:
    """The GAN training precision and why: `auto` is mixed_bfloat16 where bf16 runs natively."""
    if precision != "auto":
        return {"precision": precision, "chosen_by": "--precision"}
    from s2f_tf.train.builder import fast_bfloat16

    native = fast_bfloat16()
    return {
        "precision": "mixed_bfloat16" if native else "float32",
        "chosen_by": "auto: "
        + (
            "native bf16 here" if native else "no native bf16 here (bf16 would be emulated, slower)"
        ),
    }


def run(args):
    import time
    from pathlib import Path

    from s2f_tf.config import preset

    preset(args.preset)  # an unknown name fails here, before minutes of synth and prepare
    if args.seed_tables:
        from s2f_tf.commands import seed_tables
        from s2f_tf.errors import S2FError

        if args.skip_evaluate:
            raise S2FError("--skip-evaluate: the seed tables are evaluations; drop one of the two")

        return seed_tables.run(args)
    started = time.perf_counter()
    out = Path(args.out)
    corpus, data, work = out / "corpus", out / "data", out / "workdir"
    precision = precision_choice(args.precision)
    timings = {}
    stages = Stages(out, timings)
    for name, argv in corpus_stages(args, corpus, data):
        _stage(name, argv, timings)
    for name, argv in model_stages(args, data, work, precision["precision"]):
        _stage(name, argv, timings)
    from s2f_tf import workdir as wd
    from s2f_tf.evaluate.report import REPORT

    exported = stages.run(
        "export",
        _flags(workdir=work, out=args.models),
        [work],
        lambda summary: Path(summary["saved_model"]["path"]).is_dir(),
    )
    version_dir = exported["saved_model"]["path"]
    grid = first_faces(corpus, data, version_dir, out / "faces_heldout.png", timings)
    if not args.skip_evaluate:
        stages.run(
            "evaluate",
            evaluate_flags(args, data, work, out / "evaluation", Path(args.models).name),
            [work],
            lambda summary: (Path(summary["out"]) / REPORT).is_file(),
        )
    timings["total"] = round(time.perf_counter() - started, 1)
    return {
        "seconds": timings["total"],
        "faces_png": str(grid),
        "samples": str(work / wd.SAMPLES),
        "evaluation": None if args.skip_evaluate else str(out / "evaluation" / REPORT),
        "savedmodel": str(version_dir),
        "tflite": {k: v["path"] for k, v in exported["tflite"].items()},
        "tensorboard": f"tensorboard --logdir {work / wd.LOGS}",
        **precision,
        "stages": timings,
        "skipped": stages.skipped,
    }


def corpus_stages(args, corpus, data, gender=None):
    """(command, arguments) of synth (only without a corpus) and prepare (of one gender if given)."""
    if not (corpus / "vox1_meta.csv").is_file():
        yield "synth", _flags(out=corpus, identities=args.identities, seed=args.seed,
                              utterances=args.utterances, faces=args.faces)  # fmt: skip
    yield "prepare", _flags(meta=corpus / "vox1_meta.csv", voices=corpus / "wav",
                            faces=corpus / "faces", out=data, gender=gender)  # fmt: skip


def model_stages(args, data, work, precision):
    """(command, arguments) of pretrain-voice and train (each resumes or skips finished work)."""
    common = _flags(data=data, workdir=work, preset=args.preset)
    yield "pretrain-voice", common + _flags(steps=args.pretrain_steps)
    train = common + _flags(steps=args.train_steps)
    if precision == "mixed_bfloat16":
        train.append("--mixed-precision")
    yield "train", train


def evaluate_flags(args, data, work, out, name, compare=()):
    argv = _flags(data=data, workdir=work, out=out, name=name,
                  classifier_steps=args.classifier_steps)  # fmt: skip
    return argv + (["--compare", *map(str, compare)] if compare else [])


def _flags(**values) -> list[str]:
    """`--name value` arguments (underscores become dashes), in order; None values are left out."""
    argv = []
    for name, value in values.items():
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv
