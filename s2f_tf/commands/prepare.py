"""`s2f prepare`: VoxCeleb1 voices + VGGFace1 faces (or `s2f synth` output) -> TFRecord shards."""

HELP = "VAD, split, label and shard a voice/face corpus (VoxCeleb1 + VGGFace1 layout) for training"


def add_arguments(parser):
    parser.add_argument(
        "--meta", required=True, help="vox1_meta.csv (tab-separated VoxCeleb1 meta)"
    )
    parser.add_argument(
        "--voices", required=True, help="voice root: <voices>/<idNNNNN>/<video>/<utt>.wav"
    )
    parser.add_argument(
        "--faces", required=True, help="face root: <faces>/<VGGFace1 name>/<image>.jpg"
    )
    parser.add_argument("--out", required=True, help="output directory (a rerun resumes it)")
    parser.add_argument("--gender", choices=("f", "m"), help="keep only female or male identities")
    parser.add_argument(
        "--split",
        choices=("letters", "file"),
        default="letters",
        help="letters: names A-E held out (val/test), F-Z train (default); file: --split-file",
    )
    parser.add_argument("--split-file", help="lines 'name train|val|test' (with --split file)")
    parser.add_argument(
        "--min-frames",
        type=int,
        default=300,
        help="skip utterances with fewer VAD'd 10 ms frames (default: 300, the small preset's minimum)",
    )
    parser.add_argument(
        "--image-size", type=int, default=64, help="face size in pixels (default: 64)"
    )
    parser.add_argument(
        "--heldout-fraction",
        type=float,
        default=0.1,
        help="share of each training identity's utterances kept as train_heldout (default: 0.1)",
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")


def run(args):
    from s2f_tf.data.prepare import PrepareOptions, prepare

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
            image_size=args.image_size,
            heldout_fraction=args.heldout_fraction,
            workers=args.workers,
        )
    )
