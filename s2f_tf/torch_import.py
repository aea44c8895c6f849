"""The authors' released PyTorch weights -> a work directory (what `s2f import-torch` does; no training).

Writes WORKDIR/config.json, WORKDIR/voice_encoder.weights.h5 and a generator checkpoint under
WORKDIR/checkpoints/, the files `s2f export` and `s2f generate` read after `s2f train`; then reloads
them and compares them with PyTorch running the original state dicts on a random log-mel input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from s2f_tf import convert, workdir
from s2f_tf.config import Config
from s2f_tf.errors import S2FError
from s2f_tf.models.voice_to_face import faces_from_features

# Reloaded Keras vs PyTorch on the same random input; conversion is exact up to float32 round-off
# (~1e-6 at the reference sizes), so anything near this bound means a wrong conversion.
PARITY_TOLERANCE = 1e-4
PARITY_FRAMES = 1000


def import_official_weights(
    voice_path, generator_path, root, config: Config, overwrite: bool = False, seed: int = 0
) -> dict:
    """Convert `voice_path` / `generator_path` (PyTorch state dicts) into the work directory `root`,
    then check what was written against PyTorch; the JSON-able summary.

    Raises:
        S2FError: a preset that is not the reference architecture, a missing or unreadable file, a work directory that already holds weights (without
        `overwrite`), or imported models that differ from PyTorch beyond `PARITY_TOLERANCE`.
    """
    convert.check_reference_architecture(config)  # before anything is read
    for source in (voice_path, generator_path):  # before torch is imported
        if not Path(source).is_file():
            raise S2FError(f"{source}: no such file")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise S2FError(f"{root}: exists and is not a directory")
    weights_path = root / workdir.ENCODER_WEIGHTS
    if not overwrite and (weights_path.exists() or workdir.latest_checkpoint(root)):
        raise S2FError(
            f"{root} already holds voice encoder weights or a GAN checkpoint;"
            " use a new --workdir or --overwrite"
        )
    voice_state = convert.load_state_dict(voice_path)
    generator_state = convert.load_state_dict(generator_path)
    encoder, generator = convert.from_state_dicts(
        voice_state,
        generator_state,
        config,
        sources=(Path(voice_path).name, Path(generator_path).name),
    )
    with workdir.lock(root, "import-torch"):  # not while a trainer writes here
        workdir.save_or_check_config(root, config)
        workdir.save_encoder_weights(root, encoder)
        checkpoint = workdir.save_generator(root, generator)
    # Check what was written, as `s2f export` / `s2f generate` will load it, against PyTorch itself.
    _, encoder, generator = workdir.load_inference_models(root)
    parity = _parity(encoder, generator, voice_state, generator_state, config, seed)

    def count(model):
        return sum(int(np.prod(w.shape)) for w in model.trainable_weights)

    return {
        "workdir": str(root),
        "preset": config.name,
        "config": str(root / workdir.CONFIG),
        "voice_encoder_weights": str(weights_path),
        "checkpoint": checkpoint,
        "sources": {"voice": str(voice_path), "generator": str(generator_path)},
        "trainable_parameters": {"voice_encoder": count(encoder), "generator": count(generator)},
        "batchnorm_statistics": sum(int(np.prod(w.shape)) for w in encoder.non_trainable_weights),
        "parity_vs_torch": parity,
    }


def _parity(encoder, generator, voice_state, generator_state, config, seed) -> dict:
    """Max |Keras - PyTorch| of the embedding and the face on a random log-mel input; S2FError beyond
    `PARITY_TOLERANCE`."""
    rng = np.random.default_rng(seed)
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
    return parity
