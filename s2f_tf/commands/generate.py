"""`s2f generate`: faces for voice recordings from an exported SavedModel or TFLite file."""

import argparse

GRID_SCALE = 2  # grid cells show each face at 2x (nearest neighbour); --separate writes them 1:1.
GRID_COLUMNS = 8

HELP = (
    "generate faces for audio files with an exported model (SavedModel directory or .tflite) or"
    " the bundled one"
)

KEPT = "images written before are complete (each is written to a temporary name and renamed)"


def add_arguments(parser):
    from s2f_tf.audio import FORMATS
    from s2f_tf.commands.argtypes import path
    from s2f_tf.commands.model_choice import add_model_argument

    add_model_argument(parser)
    parser.add_argument(
        "--wav",
        nargs="*",
        type=path,
        default=[],
        metavar="FILE",
        help=f"audio files: {', '.join(FORMATS)}; any sample rate, mono or stereo",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=path,
        help="PNG grid path; with --separate, a directory of PNGs",
    )
    parser.add_argument(
        "--vad",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep only voiced audio (webrtcvad, as prepare; default on)",
    )
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument(
        "--grid", dest="separate", action="store_false", help="one labelled grid (default)"
    )
    layout.add_argument(
        "--separate", dest="separate", action="store_true", help="one PNG per input file"
    )
    parser.set_defaults(separate=False)


def _labels(files):
    """File stems; where stems repeat (VoxCeleb's 00001.wav), the first folder below the files' common
    folder is put in front: `id10001/00001`."""
    import os
    from pathlib import Path

    paths = [Path(os.path.abspath(f)) for f in files]
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems) or len(paths) < 2:
        return stems
    common = Path(os.path.commonpath([p.parent for p in paths]))
    labels = []
    for path in paths:
        below = path.relative_to(common).parts
        labels.append(f"{below[0]}/{path.stem}" if len(below) > 1 else path.stem)
    return labels


def _check_out(out, separate: bool):
    """Refuse an --out that cannot be written before any model is loaded."""
    from s2f_tf.errors import S2FError

    if separate and out.exists() and not out.is_dir():
        raise S2FError(f"--out {out}: exists and is not a directory (--separate writes PNGs there)")
    if not separate and out.suffix.lower() != ".png":
        raise S2FError(
            f"--out {out}: a grid is written as .png (or use --separate with a directory)"
        )
    if not separate and out.is_dir():
        raise S2FError(f"--out {out}: is a directory; give a .png file name")
    parent = next((p for p in out.parents if p.exists()), None)  # the nearest existing folder
    if parent is not None and not parent.is_dir():
        raise S2FError(f"--out {out}: {parent} is not a directory")


def run(args):
    from pathlib import Path

    import numpy as np
    from tqdm.auto import tqdm

    from s2f_tf.commands.model_choice import chosen_model
    from s2f_tf.errors import S2FError
    from s2f_tf.images import grid, save_png
    from s2f_tf.serving.generate import generate_faces
    from s2f_tf.serving.inference import load_model

    if not args.wav:
        raise S2FError("no input files: give one or more --wav FILE")
    out = Path(args.out)
    _check_out(out, args.separate)
    model = load_model(chosen_model(args.model, "generate"))
    results = generate_faces(model, args.wav, vad=args.vad, progress=tqdm)
    labels = _labels([r["file"] for r in results])
    if args.separate:
        written, used = [], set()
        for label, result in zip(labels, results, strict=True):
            name, k = label, 1
            while name in used:
                name, k = f"{label}_{k}", k + 1
            used.add(name)
            written.append(str(save_png(out / f"{name}.png", result["face"])))
    else:
        faces = np.stack([r["face"] for r in results])
        faces = faces.repeat(GRID_SCALE, axis=1).repeat(
            GRID_SCALE, axis=2
        )  # 64 px is small on screen
        columns = min(GRID_COLUMNS, len(faces))
        written = [str(save_png(out, grid(faces, columns, labels=labels)))]
    return {
        "model": str(model.path),
        "images": written,
        "inputs": [{"file": r["file"], "seconds_used": r["seconds_used"]} for r in results],
        "vad": args.vad,
    }
