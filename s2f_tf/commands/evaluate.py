"""`s2f evaluate`: every metric of the anchors, figures and a Markdown report for a work directory."""

HELP = (
    "evaluate a trained work directory: metrics.json, report.md and PNG figures (bounded by default:"
    " 20 utterances per identity and split, 50 reference faces per identity, 100-identity galleries;"
    " --full for everything)"
)

SPLIT_NAMES = {"train-heldout": "train_heldout", "test": "test", "val": "val", "unseen": "unseen"}

KEPT = "files written before are complete (each is written to a temporary name and renamed)"


def add_arguments(parser):
    from s2f_tf.commands.argtypes import SEED, add_paths, path

    add_paths(
        parser,
        data="prepared dataset directory (s2f prepare --out)",
        workdir="work directory of s2f train (or import-torch)",
    )
    parser.add_argument(
        "--split",
        action="append",
        choices=sorted(SPLIT_NAMES),
        help="voice split to evaluate; repeat for several (default: train-heldout and unseen;"
        " unseen = val + test, every identity training never saw)",
    )
    parser.add_argument("--out", type=path, help="output directory (default: WORKDIR/eval)")
    parser.add_argument(
        "--name", help="the model's name in the report (default: the work directory's name)"
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        type=path,
        default=[],
        metavar="PATH",
        help="other work directories (evaluated on the same data) or earlier evaluate outputs"
        " (directories with metrics.json) to put side by side, e.g. the female and male models",
    )
    _judge_arguments(parser)
    _bound_arguments(parser)
    parser.add_argument(
        "--seed", type=SEED, default=0, help="seed of classifiers, trials and galleries"
    )
    parser.add_argument(
        "--no-fid",
        action="store_true",
        help="skip FID/KID even when the Inception weights are cached",
    )
    parser.add_argument(
        "--no-download",
        action="store_true",
        help="never download the InceptionV3 ImageNet weights for FID/KID (by default they are fetched"
        " into the Keras cache when missing; offline, FID/KID are skipped with a message)",
    )


def _judge_arguments(parser):
    """The classifiers that judge the generated faces: how they are trained and cached."""
    from s2f_tf.commands.argtypes import ALL_OR_COUNT, COUNT

    parser.add_argument(
        "--classifier-steps",
        type=COUNT,
        default=300,
        help="training steps of the judging face classifiers (default: 300)",
    )
    parser.add_argument(
        "--classifier-faces",
        type=ALL_OR_COUNT,
        default=50,
        help="real faces per training identity for the judging classifiers, 20%% of them held out as"
        " the seen identities' reference (a seeded subset; 0 = all; default: 50)",
    )
    parser.add_argument(
        "--retrain-judges",
        action="store_true",
        help="train the judging classifiers anew instead of reusing those cached under DATA/judges/"
        " (they are trained once per dataset and options, then reused by every evaluation)",
    )


def _bound_arguments(parser):
    """How much of each split is evaluated, and the retrieval galleries."""
    from s2f_tf.commands.argtypes import ALL_OR_COUNT, COUNT

    parser.add_argument(
        "--max-utterances",
        type=ALL_OR_COUNT,
        default=20,
        help="at most N utterances per identity and split, a seeded subset (0 = all; default: 20)",
    )
    parser.add_argument(
        "--max-faces",
        type=ALL_OR_COUNT,
        default=50,
        help="at most N real reference faces per unseen identity (0 = all; default: 50)",
    )
    parser.add_argument(
        "--full",
        "--all-utterances",
        action="store_true",
        help="the full run: every utterance and every reference face (--max-utterances 0"
        " --max-faces 0)",
    )
    parser.add_argument(
        "--gallery-size",
        type=COUNT,
        default=100,
        help="identities per retrieval gallery (default: 100)",
    )


def run(args):
    from pathlib import Path

    from s2f_tf.config import CONFIG_FILE
    from s2f_tf.errors import S2FError

    if args.full:
        args.max_utterances = args.max_faces = 0
    if not Path(args.data).is_dir():
        raise S2FError(f"{args.data}: no such dataset directory")
    if not Path(args.workdir).is_dir():
        raise S2FError(f"{args.workdir}: no such work directory")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise S2FError(f"--out {args.out}: exists and is not a directory")
    for other in args.compare:  # before minutes of evaluation, not after
        path = Path(other)
        if (
            not (path / "metrics.json").is_file()  # evaluate.report.METRICS (no TensorFlow yet)
            and not (path / CONFIG_FILE).is_file()
            and not (path.suffix == ".json" and path.is_file())
        ):
            raise S2FError(f"--compare {other}: neither a work directory nor an evaluate output")

    from s2f_tf.evaluate import EvalOptions, PipelineSource, evaluate, report

    splits = tuple(
        dict.fromkeys(SPLIT_NAMES[s] for s in (args.split or ["train-heldout", "unseen"]))
    )
    options = EvalOptions(
        splits=splits,
        classifier_steps=args.classifier_steps,
        classifier_faces=args.classifier_faces,
        retrain_judges=args.retrain_judges,
        max_utterances=args.max_utterances,
        max_faces=args.max_faces,
        gallery_size=args.gallery_size,
        seed=args.seed,
        download_inception=not args.no_download,
    )
    out = Path(args.out) if args.out else Path(args.workdir) / "eval"
    result = evaluate(
        PipelineSource(args.data),
        args.workdir,
        out,
        options,
        compare=args.compare,
        extractor=None if args.no_fid else "auto",
        name=args.name,
    )
    result["out"] = str(out)
    return report.summary(result)
