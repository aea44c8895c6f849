"""`s2f import-torch`: the authors' released PyTorch weights -> a work directory (no training); the work
is `s2f_tf.torch_import.import_official_weights`.
"""

HELP = (
    "import the authors' PyTorch weights (voice_embedding.pth, generator.pth) into a work directory"
)

KEPT = "the work directory's files are each complete (written to a temporary name and renamed)"


def add_arguments(parser):
    from s2f_tf.commands.argtypes import SEED, add_paths

    add_paths(
        parser,
        voice="voice_embedding.pth (PyTorch state dict)",
        generator="generator.pth (PyTorch state dict)",
        workdir="work directory to create or complete",
    )
    parser.add_argument(
        "--preset",
        default="wen2019",
        help="configuration preset whose sizes the files have (default: wen2019, the released ones)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace voice encoder weights / checkpoints already in the work directory",
    )
    parser.add_argument("--seed", type=SEED, default=0, help="seed of the parity-check input")


def run(args):
    from s2f_tf.config import preset
    from s2f_tf.torch_import import import_official_weights

    return import_official_weights(
        args.voice,
        args.generator,
        args.workdir,
        preset(args.preset),
        overwrite=args.overwrite,
        seed=args.seed,
    )
