"""s2f_tf.convert and `s2f import-torch`: PyTorch state dicts -> Keras, checked against PyTorch itself.

The PyTorch side is tests/torch_reference_nets.py, written from docs/recipe.md; its weights and BatchNorm
statistics are random, saved in both serialisation formats, imported and compared on random log-mel
inputs of even and odd lengths.
"""

import sys

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch weight import needs the optional extra: pip install 's2f_tf[torch]'"
)

import torch_reference_nets as reference  # noqa: E402

from s2f_tf import convert, workdir  # noqa: E402
from s2f_tf.config import preset  # noqa: E402
from s2f_tf.errors import S2FError  # noqa: E402

pytestmark = pytest.mark.torch

TOLERANCE = 1e-4
FORMATS = {"zip": True, "legacy": False}  # torch.save(..., _use_new_zipfile_serialization=...)


def reference_nets(config, seed=0):
    model = config.model
    voice = reference.voice_net(model.voice_channels, model.embedding_dim)
    generator = reference.generator_net(model.generator_channels, model.embedding_dim)
    return reference.randomize(voice, seed), reference.randomize(generator, seed + 1)


def save(state, path, fmt="zip"):
    torch.save(state, path, _use_new_zipfile_serialization=FORMATS[fmt])
    return path


def torch_run(voice, generator, features):
    """(embedding, face from the normalised embedding) from the torch.nn reference, Keras layout."""
    with torch.no_grad():
        embedding = voice(torch.from_numpy(features.transpose(0, 2, 1)))
        normalised = torch.nn.functional.normalize(embedding, dim=1)
        face = generator(normalised[:, :, None, None])
    return embedding.numpy(), face.numpy().transpose(0, 2, 3, 1)


def keras_run(encoder, generator, features):
    embedding = encoder(features, training=False).numpy()
    normalised = embedding / np.linalg.norm(embedding, axis=1, keepdims=True)
    return embedding, generator(normalised).numpy()


def features(frames, batch=2, seed=0):
    rng = np.random.default_rng(seed + frames)
    return rng.standard_normal((batch, frames, 64)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    """The tiny-sized reference nets and their state dicts saved in the zip format."""
    config = preset("tiny")
    voice, generator = reference_nets(config)
    root = tmp_path_factory.mktemp("tiny_pth")
    return (
        config,
        voice,
        generator,
        save(voice.state_dict(), root / "voice.pth"),
        save(generator.state_dict(), root / "generator.pth"),
    )


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("name", ["tiny", "wen2019"])
def test_parity_with_pytorch(name, fmt, tmp_path):
    config = preset(name)
    voice, generator = reference_nets(config, seed=7)
    voice_path = save(voice.state_dict(), tmp_path / "voice_embedding.pth", fmt)
    generator_path = save(generator.state_dict(), tmp_path / "generator.pth", fmt)

    encoder, keras_generator = convert.from_torch(voice_path, generator_path, config)

    for frames in (300, 301, 1000):
        x = features(frames)
        torch_embedding, torch_face = torch_run(voice, generator, x)
        embedding, face = keras_run(encoder, keras_generator, x)
        assert embedding.shape == (2, 64) and face.shape == (2, 64, 64, 3)
        # The comparison means something only if the outputs are not ~0.
        assert np.abs(torch_embedding).max() > 0.5 and np.std(torch_face) > 0.01
        np.testing.assert_allclose(embedding, torch_embedding, rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(face, torch_face, rtol=0, atol=TOLERANCE)


def test_reference_sizes_and_batchnorm_statistics(tmp_path):
    config = preset("wen2019")
    voice, generator = reference_nets(config)
    encoder, keras_generator = convert.from_torch(
        save(voice.state_dict(), tmp_path / "v.pth"),
        save(generator.state_dict(), tmp_path / "g.pth"),
        config,
    )
    trainable = [
        sum(int(np.prod(w.shape)) for w in m.trainable_weights) for m in (encoder, keras_generator)
    ]
    assert trainable == [2_670_720, 12_191_875]
    bn = encoder.blocks[2]  # bn0
    np.testing.assert_array_equal(bn.moving_mean.numpy(), voice.model[1].running_mean.numpy())
    np.testing.assert_array_equal(bn.moving_variance.numpy(), voice.model[1].running_var.numpy())
    assert bn.epsilon == voice.model[1].eps


def test_transposed_kernel_is_not_flipped(tiny_files):
    """docs/recipe.md's "no kernel flip" claim, checked: flipping the kernels breaks parity by far."""
    config, voice, generator, voice_path, generator_path = tiny_files
    encoder, keras_generator = convert.from_torch(voice_path, generator_path, config)
    x = features(300)
    _, torch_face = torch_run(voice, generator, x)
    for layer in keras_generator.blocks:
        if layer.name.startswith("deconv"):
            layer.kernel.assign(layer.kernel.numpy()[::-1, ::-1])
    _, flipped = keras_run(encoder, keras_generator, x)
    assert np.abs(flipped - torch_face).max() > 100 * TOLERANCE


def test_torch_outputs_match_reference_modules(tiny_files):
    config, voice, generator, voice_path, generator_path = tiny_files
    x = features(301)
    embedding, face = convert.torch_outputs(
        convert.load_state_dict(voice_path), convert.load_state_dict(generator_path), x, config
    )
    torch_embedding, torch_face = torch_run(voice, generator, x)
    np.testing.assert_allclose(embedding, torch_embedding, rtol=0, atol=1e-6)
    np.testing.assert_allclose(face, torch_face, rtol=0, atol=1e-6)


def test_module_prefix_and_missing_batch_counter_are_accepted(tiny_files, tmp_path):
    config, voice, generator, _, generator_path = tiny_files
    state = {
        f"module.{k}": v
        for k, v in voice.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    encoder, _ = convert.from_torch(save(state, tmp_path / "v.pth"), generator_path, config)
    x = features(300)
    np.testing.assert_allclose(
        encoder(x).numpy(), torch_run(voice, generator, x)[0], rtol=0, atol=TOLERANCE
    )


def _error(tmp_path, tiny_files, voice_state=None, generator_state=None):
    config, voice, generator, _, _ = tiny_files
    voice_state = voice.state_dict() if voice_state is None else voice_state
    generator_state = generator.state_dict() if generator_state is None else generator_state
    with pytest.raises(S2FError) as error:
        convert.from_torch(
            save(voice_state, tmp_path / "voice_embedding.pth"),
            save(generator_state, tmp_path / "generator.pth"),
            config,
        )
    message = str(error.value)
    assert "\n" not in message
    return message


def test_missing_key(tmp_path, tiny_files):
    state = tiny_files[1].state_dict()
    del state["model.4.running_var"]
    message = _error(tmp_path, tiny_files, voice_state=state)
    assert message.startswith("voice_embedding.pth: missing key model.4.running_var")


def test_unexpected_key(tmp_path, tiny_files):
    state = tiny_files[2].state_dict()
    state["model.11.weight"] = torch.zeros(3)
    message = _error(tmp_path, tiny_files, generator_state=state)
    assert message.startswith("generator.pth: unexpected key model.11.weight")


def test_wrong_shape_names_key_and_both_shapes(tmp_path, tiny_files):
    state = tiny_files[2].state_dict()
    state["model.2.weight"] = torch.zeros(16, 9, 4, 4)  # the file says 9 outputs, tiny has 16
    message = _error(tmp_path, tiny_files, generator_state=state)
    assert "generator.pth: model.2.weight has shape (16, 9, 4, 4)" in message
    assert "needs (16, 16, 4, 4)" in message


def test_wrong_preset_is_a_shape_error(tiny_files):
    _, _, _, voice_path, generator_path = tiny_files
    with pytest.raises(
        S2FError, match=r"model\.0\.weight has shape \(8, 64, 3\) but conv0 needs \(256, 64, 3\)"
    ):
        convert.from_torch(voice_path, generator_path, preset("wen2019"))


def test_missing_and_unreadable_files(tmp_path, tiny_files):
    config, _, _, voice_path, generator_path = tiny_files
    with pytest.raises(S2FError, match=r"nope\.pth: no such file"):
        convert.from_torch(tmp_path / "nope.pth", generator_path, config)
    text = tmp_path / "text.pth"
    text.write_text("not a pickle")
    with pytest.raises(S2FError, match="not a readable PyTorch weights file"):
        convert.from_torch(voice_path, text, config)
    listed = save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(S2FError, match="not a PyTorch state dict"):
        convert.from_torch(listed, generator_path, config)


def test_arbitrary_pickles_are_refused(tmp_path, tiny_files):
    """weights_only=True: a file that would run code on load is rejected, not executed."""
    config, _, _, _, generator_path = tiny_files
    path = save({"model.0.weight": _Evil()}, tmp_path / "evil.pth")
    with pytest.raises(S2FError, match="not a readable PyTorch weights file"):
        convert.from_torch(path, generator_path, config)


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_torch_missing(monkeypatch, tiny_files):
    config, _, _, voice_path, generator_path = tiny_files
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(S2FError, match=r"needs torch: pip install 's2f_tf\[torch\]'"):
        convert.from_torch(voice_path, generator_path, config)


def _import_args(voice_path, generator_path, root):
    return (
        "--voice",
        voice_path,
        "--generator",
        generator_path,
        "--workdir",
        root,
        "--preset",
        "tiny",
    )


def test_import_torch_command(tmp_path, tiny_files, s2f):
    config, voice, generator, voice_path, generator_path = tiny_files
    root = tmp_path / "work"
    args = _import_args(voice_path, generator_path, root)

    run = s2f("import-torch", *args)
    assert run.status == 0, run.err
    summary = run.summary
    assert summary["preset"] == "tiny"
    assert (root / "config.json").is_file() and (root / "voice_encoder.weights.h5").is_file()
    assert summary["checkpoint"] == workdir.latest_checkpoint(root)
    assert summary["trainable_parameters"]["voice_encoder"] == sum(
        p.numel() for p in voice.parameters()
    )
    assert summary["trainable_parameters"]["generator"] == sum(
        p.numel() for p in generator.parameters()
    )
    assert summary["parity_vs_torch"]["embedding_max_abs_diff"] < TOLERANCE
    assert summary["parity_vs_torch"]["face_max_abs_diff"] < TOLERANCE
    assert [p.name for p in root.glob(".*")] == [".lock"]  # no temporary files left behind

    # What `s2f export` / `s2f generate` load gives the PyTorch outputs.
    loaded_config, encoder, keras_generator = workdir.load_inference_models(root)
    assert loaded_config == config
    for frames in (300, 1001):
        x = features(frames)
        for ours, theirs in zip(
            keras_run(encoder, keras_generator, x), torch_run(voice, generator, x), strict=True
        ):
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOLERANCE)

    # A second import refuses to replace the weights unless asked to.
    run = s2f("import-torch", *args)
    assert run.status == 2 and "already holds" in run.err and run.out == ""
    run = s2f("import-torch", *args, "--overwrite")
    assert run.status == 0, run.err
    assert run.summary["checkpoint"].endswith("ckpt-2")


def test_import_torch_refuses_a_different_config(tmp_path, tiny_files, s2f):
    _, _, _, voice_path, generator_path = tiny_files
    root = tmp_path / "work"
    root.mkdir()
    other = preset("tiny").replace(train={"batch_size": 8})
    (root / "config.json").write_text(other.to_json())
    (root / "checkpoints").mkdir()  # a GAN checkpoint depends on it
    (root / "checkpoints" / "ckpt-1.index").write_bytes(b"")
    run = s2f("import-torch", *_import_args(voice_path, generator_path, root), "--overwrite")
    assert run.status == 2
    assert "config.json: train.batch_size is 8 there, 4 asked (fixed since the first GAN" in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert not (root / "voice_encoder.weights.h5").exists()


def test_import_torch_bad_file_is_one_line(tmp_path, s2f):
    run = s2f(
        "import-torch",
        "--voice",
        tmp_path / "v.pth",
        "--generator",
        tmp_path / "g.pth",
        "--workdir",
        tmp_path / "w",
    )
    assert run.status == 2
    assert run.err.strip() == f"s2f import-torch: error: {tmp_path / 'v.pth'}: no such file"
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("name", ["tiny", "wen2019"])
def test_tflite_export_of_imported_weights_matches_pytorch(name, tmp_path, s2f):
    """Waveform -> the imported model's exported TFLite file vs the PyTorch nets fed the float64 numpy
    reference front end (tiled to the test length as docs/recipe.md, front-end step 8): the product end to end."""
    export = pytest.importorskip(
        "s2f_tf.serving.export", reason="s2f_tf.serving.export not present"
    )
    from reference_frontend import reference_logmel

    from s2f_tf.serving.inference import TFLiteFaces

    config = preset(name)
    voice, generator = reference_nets(config, seed=11)
    root = tmp_path / "work"
    run = s2f(
        "import-torch",
        "--voice",
        save(voice.state_dict(), tmp_path / "voice_embedding.pth", "legacy"),
        "--generator",
        save(generator.state_dict(), tmp_path / "generator.pth", "legacy"),
        "--workdir",
        root,
        "--preset",
        name,
    )
    assert run.status == 0, run.err
    report = export.export(
        root,
        tmp_path / "savedmodels" / "s2f_torch",
        quantizations=("fp32",),
        check_samples=(8000,),
        progress=False,
    )
    tflite = TFLiteFaces(report["tflite"]["fp32"]["path"])

    rng = np.random.default_rng(3)
    test_frames = config.audio.test_frames
    for samples in (4000, 16001, 48000):  # fewer and more frames than the test length
        t = np.arange(samples) / config.audio.sample_rate
        wave = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + t)) + 0.05 * rng.standard_normal(samples)
        wave = (np.round(wave * 32767) / 32768).astype(np.float32)  # on the int16 grid
        features = reference_logmel(wave.astype(np.float64) * 32768.0)
        repeats = -(-test_frames // len(features))
        features = np.tile(features, (repeats, 1))[: max(len(features), test_frames)]
        torch_embedding, torch_face = torch_run(voice, generator, features[None].astype(np.float32))
        torch_embedding /= np.linalg.norm(torch_embedding, axis=1, keepdims=True)

        outputs = tflite(wave)
        assert np.abs(torch_face).max() > 0.1
        np.testing.assert_allclose(outputs["embedding"], torch_embedding[0], rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(outputs["face_float"], torch_face[0], rtol=0, atol=TOLERANCE)
