"""`s2f train`: the GAN of Wen et al. (2019) under tf.distribute, resuming from the last checkpoint."""

HELP = "train the voice-to-face GAN (custom tf.distribute loop; resumes automatically)"

KEPT = "checkpoints saved before are kept and a rerun resumes from the newest"


def add_arguments(parser):
    from s2f_tf.commands.argtypes import number, path
    from s2f_tf.commands.common import add_training_arguments

    add_training_arguments(parser, "GAN")
    parser.add_argument(
        "--mixed-precision", action="store_true", help="compute in mixed_bfloat16 (float32 weights)"
    )
    parser.add_argument("--jit-compile", action="store_true", help="XLA-compile the GAN step")
    parser.add_argument(
        "--time-budget",
        type=number(above=0),
        metavar="SECONDS",
        help="stop after this many wall-clock seconds of training in this run (checkpointed; a rerun"
        " continues), even before --steps; one host only",
    )
    parser.add_argument(
        "--encoder",
        type=path,
        help="voice encoder weights (default: WORKDIR/voice_encoder.weights.h5 from pretrain-voice)",
    )


def check_encoder(path, config):
    """Load the voice encoder weights once before the work directory is touched: a file cut short or
    made for another preset is one line here, not a failure after set-up."""
    from s2f_tf.models import build_voice_encoder
    from s2f_tf.train.builder import load_encoder_weights

    encoder = build_voice_encoder(config)
    load_encoder_weights(encoder, path, config)


def keep_encoder(encoder, workdir):
    """Make the work directory's voice encoder file the weights this GAN trains with (--encoder's,
    copied atomically): evaluate, export and a resumed run read them there."""
    from s2f_tf import workdir as wd
    from s2f_tf.files import atomic_write_bytes

    target = workdir / wd.ENCODER_WEIGHTS
    if not target.exists() or not target.samefile(encoder):
        atomic_write_bytes(target, encoder.read_bytes())


def warn_if_slow_bfloat16(config) -> None:
    """One line on standard error where --mixed-precision makes training slower here."""
    import sys

    from s2f_tf.train.builder import bfloat16_warning

    warning = bfloat16_warning() if config.train.mixed_precision else None
    if warning:
        print(f"s2f train: warning: {warning}", file=sys.stderr, flush=True)


def run(args):
    from pathlib import Path

    from s2f_tf import onednn
    from s2f_tf import workdir as wd
    from s2f_tf.commands.common import training_inputs, training_workdir
    from s2f_tf.data import pipeline
    from s2f_tf.errors import S2FError
    from s2f_tf.train.data import gan_dataset_fn, preview_batch
    from s2f_tf.train.loop import train_gan

    config, info, strategy = training_inputs(args, "train")
    encoder = Path(args.encoder) if args.encoder else Path(args.workdir) / wd.ENCODER_WEIGHTS
    if not encoder.is_file():
        raise S2FError(f"no voice encoder weights at {encoder}: run s2f pretrain-voice first")
    check_encoder(encoder, config)
    warn_if_slow_bfloat16(config)
    with training_workdir(args, config, info, "train"):
        keep_encoder(encoder, Path(args.workdir))
        summary = train_gan(
            config,
            args.workdir,
            gan_dataset_fn(args.data, config),
            info.num_classes,
            strategy,
            encoder_weights=encoder,
            preview=preview_batch(args.data, config),
            progress=not args.no_progress,
            time_budget=args.time_budget,
        )
    return {**summary, "features_on": pipeline.features_on(config), "cpu_kernels": onednn.state()}
