"""Arguments and set-up shared by the training commands (pretrain-voice, train)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from s2f_tf.commands.argtypes import COUNT, SEED, add_paths, integer
from s2f_tf.errors import S2FError
from s2f_tf.train import STRATEGIES

MAX_CPU_REPLICAS = 256


def add_training_arguments(parser, what: str):
    add_paths(
        parser,
        data="prepared dataset directory (s2f prepare --out)",
        workdir="work directory (created; resumed if present)",
    )
    parser.add_argument(
        "--preset",
        help="configuration preset: wen2019, small, hq128, tiny or tiny128 (default: the work"
        " directory's, else wen2019)",
    )
    parser.add_argument("--steps", type=COUNT, help=f"total {what} steps (default: the preset's)")
    parser.add_argument(
        "--batch-size", type=COUNT, help="global batch size (default: the preset's)"
    )
    parser.add_argument(
        "--strategy",
        default="auto",
        choices=STRATEGIES,
        help="tf.distribute strategy (auto: multi-worker from TF_CONFIG, else all GPUs/CPUs)",
    )
    parser.add_argument(
        "--cpu-replicas",
        type=integer(minimum=1, maximum=MAX_CPU_REPLICAS),
        help="split the CPU into N logical devices (to run MirroredStrategy without GPUs)",
    )
    parser.add_argument(
        "--features-on",
        choices=("auto", "pipeline", "device"),
        help="where training crops become log-mel features: in tf.data on the CPU (pipeline), in the"
        " training step on the accelerator (device; ~20x less input-pipeline CPU) or auto (device when"
        " a GPU is present; the default)",
    )
    seeded = (
        "pretraining's initial weights and data order, and the GAN's after it"
        if what == "pretraining"
        else "the GAN's initial weights and data order"
    )
    parser.add_argument(
        "--seed",
        type=SEED,
        help=f"seed of {seeded} (the work directory keeps it; default: the preset's, 0)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def resolve_config(args, section: str):
    """The configuration a training command asks for: the preset (or the work directory's saved
    config) with this command's options applied to its `section` ("pretrain" or "train").

    The other stage's section and both seeds stay the work directory's when it has a config.json (a
    command asks nothing about the other stage); --seed sets this command's seed, and pretraining's seed
    is the GAN's too in a new work directory.
    """
    from s2f_tf import workdir as wd
    from s2f_tf.config import preset

    path = Path(args.workdir) / wd.CONFIG
    saved = wd.load_config(args.workdir) if path.is_file() else None
    if args.preset is not None:
        config = preset(args.preset)
    else:
        config = saved or preset("wen2019")
    overrides = {}
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    for key in ("mixed_precision", "jit_compile"):
        if getattr(args, key, None):
            overrides[key] = True
    config = config.replace(**{section: overrides}) if overrides else config
    other = "train" if section == "pretrain" else "pretrain"
    seed = getattr(args, "seed", None)
    if saved is not None:
        own_seed = saved.pretrain.seed if section == "pretrain" else saved.train.seed
        config = config.replace(**{other: getattr(saved, other)})
        config = config.replace(**{section: {"seed": own_seed if seed is None else seed}})
    elif seed is not None:
        config = config.replace(**{name: {"seed": seed} for name in (section, other)})
    if getattr(args, "features_on", None):
        config = config.replace(train={"features_on": args.features_on})
    return config


def check_data(info, config) -> None:
    """Refuse a dataset these models cannot train on before any work starts."""
    if info.image_size != config.model.image_size:
        raise S2FError(
            f"{info.data_dir}: faces are {info.image_size} px but the {config.name} preset generates"
            f" {config.model.image_size} px; prepare with --image-size {config.model.image_size}"
        )
    if info.num_classes < 1:
        raise S2FError(f"{info.data_dir}: no training identities")


def lock_workdir(workdir, command: str):
    """One trainer per work directory (see `s2f_tf.workdir.lock`); non-chief workers take no lock."""
    from s2f_tf import workdir as wd
    from s2f_tf.train.cluster import writes_workdir

    return wd.lock(workdir, command) if writes_workdir() else contextlib.nullcontext()


def start_strategy(args):
    """The tf.distribute strategy, made before anything else touches TensorFlow: logical CPU devices
    (--cpu-replicas) and multi-worker collectives can only be set up before the runtime starts."""
    from s2f_tf.train.distribute import make_strategy, use_cpu_replicas

    if args.cpu_replicas:
        use_cpu_replicas(args.cpu_replicas)
    return make_strategy(args.strategy)


def check_batch(args, global_batch: int, strategy) -> None:
    """Each replica takes an equal share of the global batch: one line naming both numbers if not."""
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        asked = "--batch-size" if args.batch_size is not None else "the configured batch size"
        how = f" (--cpu-replicas {args.cpu_replicas})" if args.cpu_replicas else ""
        raise S2FError(
            f"{asked} {global_batch} is not divisible by the {replicas} replicas{how};"
            f" use a multiple of {replicas}"
        )


def start_workdir(workdir, config, info) -> None:
    """Create the work directory, remove what killed saves left there, save (or check) its config.json
    and write labels.json (under the work directory's lock)."""
    from s2f_tf import workdir as wd

    Path(workdir).mkdir(parents=True, exist_ok=True)
    wd.remove_leftovers(workdir)
    wd.save_or_check_config(workdir, config)
    labels = {split: info.names(split) for split in info.splits}
    wd.save_labels(workdir, labels)


def training_inputs(args, section: str):
    """(config, dataset info, strategy) of a training command, checked against each other before any
    work; the strategy first, before anything else touches TensorFlow (`start_strategy`)."""
    from s2f_tf.data.info import load_info

    strategy = start_strategy(args)
    config = resolve_config(args, section)
    check_batch(args, getattr(config, section).batch_size, strategy)
    info = load_info(args.data)
    check_data(info, config)
    return config, info, strategy


@contextlib.contextmanager
def training_workdir(args, config, info, command: str):
    """Hold the work directory (`lock_workdir`) and write config.json and labels.json."""
    with lock_workdir(args.workdir, command):
        start_workdir(args.workdir, config, info)
        yield
