"""The authors' released PyTorch weights (voice_embedding.pth, generator.pth) -> the Keras models.

Both files are PyTorch state dicts of an `nn.Sequential` kept as attribute `model` (docs/recipe.md,
"Official weights file layout"). The Sequential's index counts every layer, ReLUs included, while the
Keras stacks add ZeroPadding layers that PyTorch folds into its convolutions; walking a Keras stack and
skipping its padding layers therefore gives each Keras layer its PyTorch index:

    voice encoder  conv0 bn0 relu0 conv1 ... relu3 conv_out      <->  model.0 model.1 ... model.12
    generator      deconv0 relu0 deconv1 ... relu4 to_rgb        <->  model.0 model.1 ... model.10

Weight layouts: Conv1d (out, in, k) -> Conv1D (k, in, out); ConvTranspose2d (in, out, kh, kw) ->
Conv2DTranspose (kh, kw, out, in) with no kernel flip (both frameworks compute the transposed convolution
as the gradient of the same cross-correlation; tests/test_convert.py checks it numerically);
BatchNorm weight/bias/running_mean/running_var -> gamma/beta/moving_mean/moving_variance
(`num_batches_tracked` only counts training steps and is ignored).

Files are read with `torch.load(..., weights_only=True)`: tensors and containers only, never arbitrary
pickled code. Both the legacy (PyTorch < 1.6) and the zip serialisation load. torch is an optional extra:
`pip install 's2f_tf[torch]'`.

Example:
>>> from s2f_tf.config import preset
>>> encoder, generator = from_torch("voice_embedding.pth", "generator.pth", preset("wen2019"))
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from s2f_tf.config import Config
from s2f_tf.errors import S2FError, first_line
from s2f_tf.models import Generator, VoiceEncoder, build_generator, build_voice_encoder

# Training-only buffers: accepted in a file, never required, never loaded.
_IGNORED_SUFFIXES = (".num_batches_tracked",)


def _import_torch():
    try:
        import torch
    except ImportError:
        raise S2FError("reading PyTorch weights needs torch: pip install 's2f_tf[torch]'") from None
    return torch


def load_state_dict(path) -> dict[str, np.ndarray]:
    """A PyTorch state dict file -> {key: float32/int numpy array}, keys without a `module.` prefix.

    Args:
        path: a `.pth` file written by `torch.save(module.state_dict(), path)` (legacy or zip format).

    Raises:
        S2FError: torch is missing, the file is missing, unreadable or not a state dict.
    """
    torch = _import_torch()
    path = Path(path)
    if not path.is_file():
        raise S2FError(f"{path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types (UnpicklingError, RuntimeError, ...)
        raise S2FError(
            f"{path}: not a readable PyTorch weights file ({first_line(error, limit=2000)})"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint that wraps the state dict
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise S2FError(f"{path}: not a PyTorch state dict (expected {{name: tensor}})")
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}  # saved from DataParallel
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


# Keras layer type -> (PyTorch parameter names in the order of the Keras weights, the axis permutation
# that turns the PyTorch "weight" into the Keras kernel):
#   Conv1d (out, in, k) -> Conv1D (k, in, out)
#   ConvTranspose2d (in, out, kh, kw) -> Conv2DTranspose (kh, kw, out, in), no spatial flip
#   BatchNorm weight, bias, running_mean, running_var -> gamma, beta, moving_mean, moving_variance
_PLANS = (
    (keras.layers.Conv1D, ("weight", "bias"), (2, 1, 0)),
    (keras.layers.Conv2DTranspose, ("weight", "bias"), (2, 3, 1, 0)),
    (keras.layers.BatchNormalization, ("weight", "bias", "running_mean", "running_var"), None),
)


def _plan(layer):
    """(PyTorch parameter names in the order of `layer.weights`, weight permutation) or None."""
    for kind, names, permutation in _PLANS:
        if isinstance(layer, kind):
            if not getattr(layer, "use_bias", True):
                names = tuple(n for n in names if n != "bias")
            return names, permutation
    return None


def assign_state_dict(blocks, state: dict[str, np.ndarray], what: str, prefix="model.") -> int:
    """Copy a PyTorch `nn.Sequential` state dict into a list of built Keras layers; return the count.

    Every key of `state` must be used and every Keras weight filled with an array of the same shape
    after the layout conversion; otherwise nothing is assigned and S2FError names the key (and both
    shapes, in PyTorch layout).

    Args:
        blocks: the Keras layers in order (`VoiceEncoder.blocks`, `Generator.blocks`), already built.
        state: from `load_state_dict`.
        what: a name for messages ("voice_embedding.pth").
        prefix: the Sequential's attribute path in the keys.

    Example:
    >>> assign_state_dict(generator.blocks, load_state_dict("generator.pth"), "generator.pth")
    12191875
    """
    assignments, used = [], set()
    index = 0
    for layer in blocks:
        if isinstance(layer, keras.layers.ZeroPadding1D | keras.layers.ZeroPadding2D):
            continue  # PyTorch pads inside the convolution: no index of its own.
        plan = _plan(layer)
        if plan is not None:
            names, permutation = plan
            for name, variable in zip(names, layer.weights, strict=True):
                key = f"{prefix}{index}.{name}"
                if key not in state:
                    raise S2FError(
                        f"{what}: missing key {key} (for Keras layer {layer.name});"
                        " is this the right file and --preset?"
                    )
                value = state[key]
                expected = tuple(variable.shape)
                if name == "weight" and permutation is not None:
                    # The PyTorch shape this Keras weight corresponds to (axis j of PyTorch = axis
                    # permutation.index(j) of Keras).
                    expected = tuple(expected[permutation.index(j)] for j in range(len(expected)))
                if value.shape != expected:
                    raise S2FError(
                        f"{what}: {key} has shape {tuple(value.shape)} but {layer.name} needs"
                        f" {expected}; is this the right file and --preset?"
                    )
                if name == "weight" and permutation is not None:
                    value = value.transpose(permutation)
                assignments.append((variable, value))
                used.add(key)
            used.update(f"{prefix}{index}{suffix}" for suffix in _IGNORED_SUFFIXES)
        index += 1
    unexpected = sorted(k for k in state if k not in used)
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise S2FError(
            f"{what}: unexpected key {unexpected[0]}{more}; is this the right file and --preset?"
        )
    for variable, value in assignments:
        variable.assign(value.astype(variable.dtype))
    return sum(int(value.size) for _, value in assignments)


def check_reference_architecture(config: Config) -> None:
    """An S2FError unless `config.model` has the official code's generator (transposed convolutions,
    64 px): only such networks have a PyTorch counterpart to import."""
    m = config.model
    if m.generator_upsample != "transpose" or m.image_size != 64:
        raise S2FError(
            f"the {config.name} preset is not the reference architecture ({m.image_size} px faces,"
            f" {m.generator_upsample} upsampling): the official PyTorch weights fit wen2019-style"
            " presets only (--preset wen2019)"
        )


def from_state_dicts(
    voice_state: dict[str, np.ndarray],
    generator_state: dict[str, np.ndarray],
    config: Config,
    sources=("voice_embedding.pth", "generator.pth"),
) -> tuple[VoiceEncoder, Generator]:
    """Build the voice encoder and generator of `config.model` and fill them from two state dicts.

    Args:
        voice_state, generator_state: from `load_state_dict`.
        config: the sizes to build.
        sources: names of the two files, for error messages.

    Raises:
        S2FError: `config` does not have the reference generator (e.g. hq128), so no official file
            could fill it.
    """
    check_reference_architecture(config)
    encoder, generator = build_voice_encoder(config), build_generator(config)
    assign_state_dict(encoder.blocks, voice_state, sources[0])
    assign_state_dict(generator.blocks, generator_state, sources[1])
    return encoder, generator


def from_torch(voice_path, generator_path, config: Config) -> tuple[VoiceEncoder, Generator]:
    """The official voice embedding net and generator as Keras models sized by `config.model`.

    Args:
        voice_path: `voice_embedding.pth` (PyTorch state dict, legacy or zip format).
        generator_path: `generator.pth`.
        config: the sizes to build (the released weights are `preset("wen2019")`).

    Returns:
        (voice_encoder, generator), built, named "voice_encoder" and "generator". The encoder's
        BatchNorm uses the file's running statistics (call it with training=False, the default).

    Raises:
        S2FError: torch missing, a file missing or not a state dict, a missing/unexpected key, a
            shape mismatch (the message names the key and both shapes).

    Example:
    >>> encoder, generator = from_torch("voice_embedding.pth", "generator.pth", preset("wen2019"))
    >>> generator(encoder(features)).shape
    (1, 64, 64, 3)
    """
    return from_state_dicts(
        load_state_dict(voice_path),
        load_state_dict(generator_path),
        config,
        sources=(Path(voice_path).name, Path(generator_path).name),
    )


def torch_outputs(voice_state, generator_state, features, config: Config):
    """What the PyTorch networks compute, run by torch itself: the independent side of a parity check.

    A functional transcription of the reference forward passes (docs/recipe.md "Networks") on the
    state dicts: Conv1d(k3, s2, p1) -> BatchNorm (inference) -> ReLU blocks, a last Conv1d, mean over
    time; then the generator's ConvTranspose2d stack on the L2-normalised embedding.

    Args:
        voice_state, generator_state: from `load_state_dict` (sized as `config.model`).
        features: float32 log-mel `[batch, frames, num_mel_bins]` (Keras layout).
        config: gives the number of blocks and the BatchNorm epsilon.

    Returns:
        (embedding `[batch, embedding_dim]` not normalised, face `[batch, 64, 64, 3]`) as numpy.
    """
    torch = _import_torch()
    with torch.no_grad():
        x = torch.from_numpy(
            np.ascontiguousarray(np.asarray(features, np.float32).transpose(0, 2, 1))
        )
        embedding = _torch_voice_encoder(torch, voice_state, x, config)
        y = _torch_generator(torch, generator_state, embedding, config)
    return embedding.numpy(), y.numpy().transpose(0, 2, 3, 1)


def _tensor(torch, state, key):
    return torch.from_numpy(np.ascontiguousarray(state[key]))


def _torch_voice_encoder(torch, voice_state, x, config: Config):
    """The reference voice encoder on features `x` [batch, mels, frames]: the embedding, not normalised."""
    functional = torch.nn.functional
    blocks = len(config.model.voice_channels)
    for i in range(blocks):
        x = functional.conv1d(
            x, _tensor(torch, voice_state, f"model.{3 * i}.weight"), stride=2, padding=1
        )
        bn = {
            k: _tensor(torch, voice_state, f"model.{3 * i + 1}.{k}")
            for k in ("weight", "bias", "running_mean", "running_var")
        }
        x = functional.batch_norm(
            x,
            bn["running_mean"],
            bn["running_var"],
            bn["weight"],
            bn["bias"],
            training=False,
            eps=config.model.batchnorm_epsilon,
        )
        x = functional.relu(x)
    last = 3 * blocks
    x = functional.conv1d(
        x,
        _tensor(torch, voice_state, f"model.{last}.weight"),
        _tensor(torch, voice_state, f"model.{last}.bias"),
        stride=2,
        padding=1,
    )
    return x.mean(dim=2)


def _torch_generator(torch, generator_state, embedding, config: Config):
    """The reference generator on the L2-normalised embedding: faces [batch, 3, S, S]."""
    functional = torch.nn.functional
    y = functional.normalize(embedding, dim=1)[:, :, None, None]
    layers = len(config.model.generator_channels) + 1
    for i in range(layers):
        first, last = i == 0, i == layers - 1
        y = functional.conv_transpose2d(
            y,
            _tensor(torch, generator_state, f"model.{2 * i}.weight"),
            _tensor(torch, generator_state, f"model.{2 * i}.bias"),
            stride=1 if first or last else 2,
            padding=0 if first or last else 1,
        )
        if not last:
            y = functional.relu(y)
    return y
