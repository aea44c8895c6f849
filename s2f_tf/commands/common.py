"""Arguments and set-up shared by the training commands (pretrain-voice, train)."""

from __future__ import annotations

from pathlib import Path

from s2f_tf.errors import S2FError


def add_training_arguments(parser, what: str):
    parser.add_argument(
        "--data", required=True, help="prepared dataset directory (s2f prepare --out)"
    )
    parser.add_argument(
        "--workdir", required=True, help="work directory (created; resumed if present)"
    )
    parser.add_argument(
        "--preset",
        help="configuration preset: wen2019, small or tiny (default: the work directory's, else wen2019)",
    )
    parser.add_argument("--steps", type=int, help=f"total {what} steps (default: the preset's)")
    parser.add_argument("--batch-size", type=int, help="global batch size (default: the preset's)")
    parser.add_argument(
        "--strategy",
        default="auto",
        choices=("auto", "one_device", "mirrored", "multi_worker"),
        help="tf.distribute strategy (auto: multi-worker from TF_CONFIG, else all GPUs/CPUs)",
    )
    parser.add_argument(
        "--cpu-replicas",
        type=int,
        help="split the CPU into N logical devices (to run MirroredStrategy without GPUs)",
    )
    parser.add_argument(
        "--features-on",
        choices=("auto", "pipeline", "device"),
        help="where training crops become log-mel features: in tf.data on the CPU (pipeline), in the"
        " training step on the accelerator (device; ~20x less input-pipeline CPU) or auto (device when"
        " a GPU is present; the default)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def resolve_config(args, section: str):
    """The preset (or the work directory's saved config) with command-line overrides applied."""
    from s2f_tf import workdir as wd
    from s2f_tf.config import PRESETS, preset

    saved = Path(args.workdir) / wd.CONFIG
    if args.preset is not None:
        if args.preset not in PRESETS:
            raise S2FError(f"unknown preset {args.preset!r}; choose from {', '.join(PRESETS)}")
        config = preset(args.preset)
    elif saved.is_file():
        config = wd.load_config(args.workdir)
    else:
        config = preset("wen2019")
    overrides = {}
    if args.steps is not None:
        if args.steps < 1:
            raise S2FError("--steps must be positive")
        overrides["steps"] = args.steps
    if args.batch_size is not None:
        if args.batch_size < 1:
            raise S2FError("--batch-size must be positive")
        overrides["batch_size"] = args.batch_size
    for key in ("mixed_precision", "jit_compile"):
        if getattr(args, key, None):
            overrides[key] = True
    config = config.replace(**{section: overrides}) if overrides else config
    if getattr(args, "features_on", None):
        config = config.replace(train={"features_on": args.features_on})
    return config


def start_strategy(args):
    from s2f_tf.train.distribute import make_strategy, use_cpu_replicas

    if args.cpu_replicas:
        use_cpu_replicas(args.cpu_replicas)
    return make_strategy(args.strategy)


def check_batch(global_batch: int, strategy) -> None:
    if global_batch % strategy.num_replicas_in_sync:
        raise S2FError(
            f"batch size {global_batch} is not divisible by {strategy.num_replicas_in_sync} replicas"
        )


def start_workdir(workdir, config, info) -> None:
    """Create the work directory, save (or check) its config.json and write labels.json."""
    import json

    from s2f_tf import workdir as wd
    from s2f_tf.files import atomic_write_text

    Path(workdir).mkdir(parents=True, exist_ok=True)
    wd.save_or_check_config(workdir, config)
    labels = {split: info.names(split) for split in info.splits}
    atomic_write_text(Path(workdir) / wd.LABELS, json.dumps(labels, indent=1))
