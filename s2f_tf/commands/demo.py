"""`s2f demo`: the whole path on the embedded synthetic corpus, each stage through its own command.

synth -> prepare -> pretrain-voice -> train -> export -> generate (the first faces, real beside generated)
-> evaluate. Every stage resumes or skips what is already done, so an interrupted demo continues where it
stopped; evaluation and export are skipped when the checkpoint (and their arguments) did not change since
they last ran (recorded in OUT/stages.json). `--seed-tables` runs the seed report's three models instead
(`s2f_tf.commands.seed_tables`).
"""

from s2f_tf.commands.stages import (
    Stages,
    corpus_stages,
    evaluate_flags,
    flags,
    model_stages,
    precision_choice,
    stage,
)

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
        help="GAN training precision (auto: mixed_bfloat16 where it is faster: a CPU with AMX or a GPU"
        " of compute capability >= 8.0)",
    )
    parser.add_argument("--skip-evaluate", action="store_true", help="no evaluation report")
    parser.add_argument(
        "--fid",
        action="store_true",
        help="FID/KID in the demo's evaluation too (InceptionV3 on every face: minutes on 2 cores, and its"
        " ImageNet weights are downloaded once when missing); the seed tables always compute them",
    )
    parser.add_argument(
        "--seed-tables",
        action="store_true",
        help="instead of the demo: train the seed report's general, female and male models on the corpus"
        " and write its Table 2 (FID/KID, L1, cosine) and Table 1 (true | reconstructed faces) to"
        " OUT/seed_tables/ (the general model is the demo's: a finished demo is reused)",
    )
    parser.add_argument("--seed", type=SEED, default=0, help="corpus seed")


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
    generated = stage(
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
        stage(name, argv, timings)
    for name, argv in model_stages(args, data, work, precision["precision"]):
        stage(name, argv, timings)
    from s2f_tf import onednn
    from s2f_tf import workdir as wd
    from s2f_tf.evaluate.report import REPORT

    exported = stages.run(
        "export",
        flags(workdir=work, out=args.models),
        [work],
        lambda summary: Path(summary["saved_model"]["path"]).is_dir(),
    )
    version_dir = exported["saved_model"]["path"]
    grid = first_faces(corpus, data, version_dir, out / "faces_heldout.png", timings)
    if not args.skip_evaluate:
        stages.run(
            "evaluate",
            evaluate_flags(
                args, data, work, out / "evaluation", Path(args.models).name, fid=args.fid
            ),
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
        "cpu_kernels": onednn.state(),
        "stages": timings,
        "skipped": stages.skipped,
    }
