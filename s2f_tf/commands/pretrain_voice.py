"""`s2f pretrain-voice`: the voice encoder as a speaker classifier, saved for the GAN to load frozen."""

HELP = "pretrain the voice encoder as a speaker classifier (cross-entropy over training speakers)"

KEPT = "pretraining checkpoints saved before are kept and a rerun resumes from them"


def add_arguments(parser):
    from s2f_tf.commands.common import add_training_arguments

    add_training_arguments(parser, "pretraining")


def run(args):
    from s2f_tf.commands.common import (
        check_batch,
        check_data,
        lock_workdir,
        resolve_config,
        start_strategy,
        start_workdir,
    )
    from s2f_tf.data import pipeline
    from s2f_tf.train.pretrain import pretrain_voice

    config = resolve_config(args, "pretrain")
    info = pipeline.load_info(args.data)
    check_data(info, config)
    with lock_workdir(args.workdir, "pretrain-voice"):
        strategy = start_strategy(args)
        check_batch(config.pretrain.batch_size, strategy)
        start_workdir(args.workdir, config, info)
        train = pipeline.voice_dataset(
            args.data, config, config.pretrain.batch_size, split="train", seed=config.pretrain.seed
        )
        heldout = pipeline.eval_voices(args.data, config, "train_heldout")
        return pretrain_voice(
            config,
            args.workdir,
            train,
            heldout,
            info.num_classes,
            strategy=strategy,
            progress=not args.no_progress,
        )
