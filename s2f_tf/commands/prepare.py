"""`s2f prepare`: VoxCeleb1 voices + VGGFace1 faces (or `s2f synth` output) -> TFRecord shards."""

HELP = "VAD, split, label and shard a voice/face corpus (VoxCeleb1 + VGGFace1 layout) for training"

KEPT = "finished shards are kept and a rerun resumes (a partial shard is only a temporary file)"


def image_sizes() -> list[int]:
    """The face sizes some preset generates: a dataset of any other size could not be trained on."""
    from s2f_tf.config import PRESETS, preset

    return sorted({preset(name).model.image_size for name in PRESETS})


def face_size(image_size: int | None, preset_name: str | None) -> int:
    """--image-size, else the --preset's face size, else 64; an S2FError when the two disagree."""
    from s2f_tf.config import preset
    from s2f_tf.errors import S2FError

    wanted = preset(preset_name).model.image_size if preset_name else None
    if image_size and wanted and image_size != wanted:
        raise S2FError(
            f"--image-size {image_size} but the {preset_name} preset trains on {wanted} px faces"
        )
    return image_size or wanted or 64


def add_arguments(parser):
    from s2f_tf.commands.argtypes import WORKERS, add_paths, integer, number, path

    add_paths(
        parser,
        meta="vox1_meta.csv (tab-separated VoxCeleb1 meta)",
        voices="voice root: <voices>/<idNNNNN>/<video>/<utt>.wav",
        faces="face root: <faces>/<VGGFace1 name>/<image>.jpg",
        out="output directory (a rerun resumes it)",
    )
    parser.add_argument("--gender", choices=("f", "m"), help="keep only female or male identities")
    parser.add_argument(
        "--split",
        choices=("letters", "file"),
        default="letters",
        help="letters: names A-E held out (val/test), F-Z train (default); file: --split-file",
    )
    parser.add_argument(
        "--split-file", type=path, help="lines 'name train|val|test' (with --split file)"
    )
    parser.add_argument(
        "--min-frames",
        type=integer(minimum=1),
        default=300,
        help="skip utterances with fewer VAD'd 10 ms frames (default: 300, the small preset's minimum)",
    )
    sizes = image_sizes()
    parser.add_argument(
        "--image-size",
        type=int,
        choices=sizes,
        help=f"face size in pixels: {' or '.join(map(str, sizes))} (default: the --preset's, else 64)",
    )
    parser.add_argument(
        "--preset",
        help="write the face size this configuration preset trains on (e.g. hq128: 128 px)",
    )
    parser.add_argument(
        "--heldout-fraction",
        type=number(minimum=0, below=1),
        default=0.1,
        help="share of each training identity's utterances kept as train_heldout (default: 0.1)",
    )
    parser.add_argument(
        "--workers", type=WORKERS, default=None, help="processes (default: all cores)"
    )


def run(args):
    from pathlib import Path

    from s2f_tf.data.prepare import PrepareOptions, prepare
    from s2f_tf.errors import S2FError

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise S2FError(f"--out {out}: exists and is not a directory")
    image_size = face_size(args.image_size, args.preset)

    return prepare(
        PrepareOptions(
            meta=args.meta,
            voices=args.voices,
            faces=args.faces,
            out=args.out,
            gender=args.gender,
            split=args.split,
            split_file=args.split_file,
            min_frames=args.min_frames,
            image_size=image_size,
            heldout_fraction=args.heldout_fraction,
            workers=args.workers,
        )
    )
