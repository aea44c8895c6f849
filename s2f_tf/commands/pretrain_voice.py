"""`s2f pretrain-voice`: the voice encoder as a speaker classifier, saved for the GAN to load frozen."""

HELDOUT_UTTERANCES = 512

HELP = "pretrain the voice encoder as a speaker classifier (cross-entropy over training speakers)"

KEPT = "pretraining checkpoints saved before are kept and a rerun resumes from them"


def add_arguments(parser):
    from s2f_tf.commands.common import add_training_arguments

    add_training_arguments(parser, "pretraining")


def run(args):
    from s2f_tf.commands.common import training_inputs, training_workdir
    from s2f_tf.data import pipeline
    from s2f_tf.train.pretrain import pretrain_voice

    config, info, strategy = training_inputs(args, "pretrain")
    batch_size = config.pretrain.batch_size
    with training_workdir(args, config, info, "pretrain-voice"):
        train = pipeline.voice_dataset(
            args.data, config, batch_size, split="train", seed=config.pretrain.seed
        )
        # Speaker top-1 of the summary on the first HELDOUT_UTTERANCES held-out utterances (shards
        # mix identities): a fixed cost at the end of pretraining, whatever the corpus size.
        heldout = pipeline.eval_voices(args.data, config, "train_heldout").take(HELDOUT_UTTERANCES)
        summary = pretrain_voice(
            config,
            args.workdir,
            train,
            heldout,
            info.num_classes,
            strategy=strategy,
            progress=not args.no_progress,
        )
    return {**summary, "features_on": pipeline.features_on(config)}
