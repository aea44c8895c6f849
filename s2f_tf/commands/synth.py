"""`s2f synth`: write the synthetic identity corpus in the VoxCeleb1 / VGGFace1 layout."""

HELP = "generate the synthetic voice/face identity corpus (VoxCeleb1 layout + vox1_meta.csv)"


KEPT = "nothing was left under --out (the corpus is built in a temporary folder, renamed when complete)"


def add_arguments(parser):
    from s2f_tf.commands.argtypes import COUNT, SEED, WORKERS, add_paths

    add_paths(
        parser,
        out="corpus directory to create (must not exist)",
    )
    parser.add_argument(
        "--identities",
        type=COUNT,
        default=120,
        help="identities (default: 120; up to 3,855, e.g. 1,251 like VoxCeleb1)",
    )
    parser.add_argument(
        "--utterances", type=COUNT, default=20, help="utterances per identity (default: 20)"
    )
    parser.add_argument(
        "--faces", type=COUNT, default=20, help="face photos per identity (default: 20)"
    )
    parser.add_argument("--seed", type=SEED, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--workers", type=WORKERS, default=None, help="processes (default: all cores)"
    )
    parser.add_argument(
        "--lengths",
        choices=("short", "voxceleb"),
        default="short",
        help="utterance lengths, as VAD'd speech: short = uniform speech target 4.5-7.5 s (the demo"
        " corpus, ~10%% reach wen2019's 800-frame minimum); voxceleb = VoxCeleb1-like, 4 s +"
        " exp(N(ln 3.05, 0.8)) clipped to [4, 30] s: mean 8.2 s, median 7.05 s, ~2%% above 20 s,"
        " ~37%% reach 800 frames (default: short)",
    )


def run(args):
    from s2f_tf.synth.corpus import generate

    return generate(
        args.out,
        identities=args.identities,
        utterances=args.utterances,
        faces=args.faces,
        seed=args.seed,
        workers=args.workers,
        lengths=args.lengths,
    )
