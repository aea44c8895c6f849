"""`s2f import-torch`: the authors' released PyTorch weights -> a work directory (no training).

Writes WORKDIR/config.json, WORKDIR/voice_encoder.weights.h5 and a generator checkpoint under
WORKDIR/checkpoints/, the files `s2f export` and `s2f generate` read after `s2f train`; then reloads
them and compares them with PyTorch running the original state dicts on a random log-mel input.
"""

HELP = (
    "import the authors' PyTorch weights (voice_embedding.pth, generator.pth) into a work directory"
)

# Reloaded Keras vs PyTorch on the same random input; conversion is exact up to float32 round-off
# (~1e-6 at the reference sizes), so anything near this bound means a wrong conversion.
PARITY_TOLERANCE = 1e-4
PARITY_FRAMES = 1000


KEPT = "the work directory's files are each complete (written to a temporary name and renamed)"


def add_arguments(parser):
    from s2f_tf.commands.argtypes import SEED, path

    parser.add_argument(
        "--voice", required=True, type=path, help="voice_embedding.pth (PyTorch state dict)"
    )
    parser.add_argument(
        "--generator", required=True, type=path, help="generator.pth (PyTorch state dict)"
    )
    parser.add_argument(
        "--workdir", required=True, type=path, help="work directory to create or complete"
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
    from pathlib import Path

    import numpy as np

    from s2f_tf import convert, workdir
    from s2f_tf.config import preset
    from s2f_tf.errors import S2FError
    from s2f_tf.models.voice_to_face import faces_from_features

    config = preset(args.preset)
    for source in (args.voice, args.generator):  # before torch is imported
        if not Path(source).is_file():
            raise S2FError(f"{source}: no such file")
    root = Path(args.workdir)
    if root.exists() and not root.is_dir():
        raise S2FError(f"{root}: exists and is not a directory")
    weights_path = root / workdir.ENCODER_WEIGHTS
    if not args.overwrite and (weights_path.exists() or workdir.latest_checkpoint(root)):
        raise S2FError(
            f"{root} already holds voice encoder weights or a GAN checkpoint;"
            " use a new --workdir or --overwrite"
        )

    voice_state = convert.load_state_dict(args.voice)
    generator_state = convert.load_state_dict(args.generator)
    encoder, generator = convert.from_state_dicts(
        voice_state,
        generator_state,
        config,
        sources=(Path(args.voice).name, Path(args.generator).name),
    )

    with workdir.lock(root, "import-torch"):  # not while a trainer writes here
        workdir.save_or_check_config(root, config)
        workdir.save_encoder_weights(root, encoder)
        checkpoint = workdir.save_generator(root, generator)

    # Check what was written, as `s2f export` / `s2f generate` will load it, against PyTorch itself.
    _, encoder, generator = workdir.load_inference_models(root)
    rng = np.random.default_rng(args.seed)
    features = rng.standard_normal((1, PARITY_FRAMES, config.audio.num_mel_bins)).astype(np.float32)
    torch_embedding, torch_face = convert.torch_outputs(
        voice_state, generator_state, features, config
    )
    embedding = encoder(features, training=False)
    face = faces_from_features(encoder, generator, features)[0].numpy()
    parity = {
        "frames": PARITY_FRAMES,
        "embedding_max_abs_diff": float(np.max(np.abs(embedding.numpy() - torch_embedding))),
        "face_max_abs_diff": float(np.max(np.abs(face - torch_face))),
        "tolerance": PARITY_TOLERANCE,
    }
    if max(parity["embedding_max_abs_diff"], parity["face_max_abs_diff"]) > PARITY_TOLERANCE:
        raise S2FError(f"imported models differ from PyTorch beyond {PARITY_TOLERANCE}: {parity}")

    def count(model):
        return sum(int(np.prod(w.shape)) for w in model.trainable_weights)

    return {
        "workdir": str(root),
        "preset": config.name,
        "config": str(root / workdir.CONFIG),
        "voice_encoder_weights": str(weights_path),
        "checkpoint": checkpoint,
        "sources": {"voice": str(args.voice), "generator": str(args.generator)},
        "trainable_parameters": {"voice_encoder": count(encoder), "generator": count(generator)},
        "batchnorm_statistics": sum(int(np.prod(w.shape)) for w in encoder.non_trainable_weights),
        "parity_vs_torch": parity,
    }
