"""`s2f info`: the presets and the networks' parameter counts."""

HELP = "print a preset's configuration and the parameter counts of its networks"


def add_arguments(parser):
    from s2f_tf.commands.argtypes import COUNT

    parser.add_argument(
        "--preset", default="wen2019", help="configuration preset (default: wen2019)"
    )
    parser.add_argument(
        "--classes", type=COUNT, default=924, help="identities for the classifier head"
    )
    parser.add_argument("--summary", action="store_true", help="also print Keras model summaries")


def run(args):
    from s2f_tf.config import preset

    # TensorFlow prints start-up lines on import, so bad arguments are rejected before it loads.
    config = preset(args.preset)
    from s2f_tf.models import build_models

    models = build_models(config, args.classes)
    counts = {}
    for name in ("voice_encoder", "generator", "face_embedder", "discriminator", "classifier"):
        net = getattr(models, name)
        if args.summary and hasattr(net, "summary"):
            net.summary()
        counts[name] = sum(int(w.numpy().size) for w in net.trainable_weights)
    return {"preset": config.name, "trainable_parameters": counts, "config": config.to_dict()}
