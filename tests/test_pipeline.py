"""s2f_tf.data.pipeline: batch shapes and ranges, label linkage, front-end features, test rule, sharding."""

import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import prepare_small_corpus

from s2f_tf.data import pipeline
from s2f_tf.data.info import load_info
from s2f_tf.errors import S2FError
from s2f_tf.frontend import LogMelSpectrogram


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return prepare_small_corpus(tmp_path_factory.mktemp("pipeline"), seed=2)


def _utterances(data_dir, config, split="train"):
    """[(label, name, int16 samples, features [N, 64])] computed with the front end, eagerly."""
    frontend = LogMelSpectrogram(config.audio)
    out = []
    for record in pipeline.eval_voices(data_dir, config.replace(audio={"test_frames": 1}), split):
        samples = record["samples"][0].numpy()
        features = frontend(tf.cast(samples, tf.float32)[None] / 32768.0)[0].numpy()
        out.append(
            (
                int(record["voice_label"][0]),
                record["identity"][0].numpy().decode(),
                samples,
                features,
            )
        )
    return out


def _find_window(x, utterances):
    """Labels of the utterances of which `x` [T, 64] is a window."""
    found = set()
    for label, _, _, features in utterances:
        starts = np.flatnonzero(np.abs(features - x[0]).max(axis=1) < 1e-3)
        for s in starts:
            if s + len(x) <= len(features) and np.abs(features[s : s + len(x)] - x).max() < 1e-3:
                found.add(label)
    return found


def test_load_info(data_dir, tmp_path):
    info = load_info(data_dir)
    raw = json.loads((data_dir / "dataset.json").read_text())
    assert info.num_classes == raw["splits"]["train"]["num_classes"] == 5
    assert info.names("train") == raw["splits"]["train"]["names"] and info.image_size == 64
    assert info.genders("train") == [info.identities[n]["gender"] for n in info.names("train")]
    assert set(info.splits) == {"train", "train_heldout", "val", "test"}
    assert info.files("train_heldout", "faces") == info.files("train", "faces")
    with pytest.raises(S2FError):
        load_info(tmp_path)
    (tmp_path / "dataset.json").write_text('{"format": "something else"}')
    with pytest.raises(S2FError):
        load_info(tmp_path)
    with pytest.raises(S2FError):
        info.split("nope")


@pytest.fixture(params=["cached", "streamed", "device"])
def feature_source(request, monkeypatch):
    """Every way training crops are made: from whole-utterance features kept in memory, streamed, or
    as waveform crops that the training step featurises (`train.features_on="device"`)."""
    if request.param == "streamed":
        monkeypatch.setattr(pipeline, "FEATURE_CACHE_BYTES", 0)
    if request.param == "device":
        monkeypatch.setattr(pipeline, "features_on", lambda config: "device")
    return request.param


def _voice(batch, audio):
    """A batch's voice features: as yielded, or its waveform crops featurised as the step does."""
    from s2f_tf.data import crops

    return crops.featurize_batch(LogMelSpectrogram(audio, normalize=False), batch)


def test_feature_cache_budget(data_dir, tiny_config):
    entry = load_info(data_dir).split("train")
    size = sum(entry["voice_frames"]) * 64 * 4
    assert pipeline._features_fit_in_memory(entry, tiny_config.audio, budget=size)
    assert not pipeline._features_fit_in_memory(entry, tiny_config.audio, budget=size - 1)
    # Only the utterances long enough to train on are kept: the budget counts those.
    frames = sorted(entry["voice_frames"])
    cut = frames[len(frames) // 2]
    longer = tiny_config.replace(audio={"min_utterance_frames": cut}).audio
    kept = sum(f for f in frames if f >= cut) * 64 * 4
    assert kept < size
    assert pipeline._features_fit_in_memory(entry, longer, budget=kept)
    assert not pipeline._features_fit_in_memory(entry, longer, budget=kept - 1)
    assert not pipeline._features_fit_in_memory({}, tiny_config.audio)  # no frame counts: stream


def test_train_batches_shapes_ranges_and_linkage(data_dir, tiny_config, feature_source):
    config = tiny_config
    info = load_info(data_dir)
    k = info.num_classes
    utterances = _utterances(data_dir, config)
    faces, face_labels, _ = pipeline.load_faces(data_dir, "train")
    batches = list(pipeline.train_dataset(data_dir, config, 4, seed=0).take(5))
    lengths = set()
    for batch in batches:
        voice, face = _voice(batch, config.audio).numpy(), batch["face"].numpy()
        if feature_source == "device":
            assert "voice" not in batch and batch["voice_wave"].dtype == tf.int16
            assert batch["voice_wave"].shape == (4, voice.shape[1] * 160 + 400)
        assert voice.dtype == np.float32 and voice.shape[0] == 4 and voice.shape[2] == 64
        assert config.audio.train_min_frames <= voice.shape[1] <= config.audio.train_max_frames
        lengths.add(voice.shape[1])
        assert face.shape == (4, 64, 64, 3) and face.dtype == np.float32
        assert -1.0 <= face.min() and face.max() <= 1.0 and face.max() - face.min() > 1.0
        assert batch["voice_label"].dtype == tf.int32 and batch["face_label"].dtype == tf.int32
        for x, label in zip(voice, batch["voice_label"].numpy(), strict=True):
            assert 0 <= label < k
            assert label in _find_window(x, utterances)  # a front-end window of its own utterance
        for image, label in zip(face, batch["face_label"].numpy(), strict=True):
            pixels = np.round(image * 127.5 + 127.5).astype(np.uint8)
            same = [
                i
                for i in range(len(faces))
                if (faces[i] == pixels).all() or (faces[i][:, ::-1] == pixels).all()
            ]
            assert same and all(face_labels[i] == label for i in same)
    assert len(lengths) > 1  # one random length per batch, not one per dataset
    again = next(iter(pipeline.train_dataset(data_dir, config, 4, seed=0)))
    np.testing.assert_array_equal(
        _voice(again, config.audio).numpy(), _voice(batches[0], config.audio).numpy()
    )
    np.testing.assert_array_equal(again["face"].numpy(), batches[0]["face"].numpy())


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_flip_probability(data_dir, tiny_config, p):
    config = tiny_config.replace(train={"flip_probability": p})
    faces, _, _ = pipeline.load_faces(data_dir, "train")
    batch = next(iter(pipeline.train_dataset(data_dir, config, 8, seed=1)))
    for image in batch["face"].numpy():
        pixels = np.round(image * 127.5 + 127.5).astype(np.uint8)
        source = faces[:, :, ::-1] if p == 1.0 else faces
        assert any((f == pixels).all() for f in source)


def test_short_utterances_are_dropped(data_dir, tiny_config, feature_source):
    frames = sorted(len(f) for _, _, _, f in _utterances(data_dir, tiny_config))
    cut = frames[len(frames) // 2]
    config = tiny_config.replace(audio={"min_utterance_frames": cut})
    ds = pipeline.voice_dataset(data_dir, config, 1, seed=0, repeat=False)
    assert len(list(ds)) == sum(n >= cut for n in frames)
    expected = {"voice", "voice_label"}
    if feature_source == "device":
        expected = {"voice_label"} | {f"voice_{k}" for k in ("wave", "samples", "skip", "mean")}
        expected.add("voice_variance")
    assert set(next(iter(ds))) == expected
    assert load_info(data_dir).splits["train"]["voice_frames"] == frames
    too_long = tiny_config.replace(audio={"min_utterance_frames": frames[-1] + 1})
    with pytest.raises(S2FError, match="no train utterance"):
        pipeline.train_dataset(data_dir, too_long, 2, seed=0)


def test_eval_voices_test_rule(data_dir, tiny_config):
    info = load_info(data_dir)
    utterances = _utterances(data_dir, tiny_config, "test")
    long = tiny_config.replace(audio={"test_frames": 2000})  # longer than every utterance: tiled
    for record, (label, name, samples, features) in zip(
        pipeline.eval_voices(data_dir, long, "test"), utterances, strict=True
    ):
        voice = record["voice"].numpy()[0]
        assert voice.shape == (2000, 64)
        np.testing.assert_allclose(
            voice, np.tile(features, (-(-2000 // len(features)), 1))[:2000], atol=1e-4
        )
        assert (
            info.names("test")[label] == name
            and record["gender"][0].numpy().decode() == info.genders("test")[label]
        )
        assert record["samples"].dtype == tf.int16 and record["samples"].shape[1] == len(samples)
    short = pipeline.voice_dataset(data_dir, tiny_config, 4, split="test", training=False)
    seen = list(short)
    assert len(seen) == info.splits["test"]["voices"] == len(utterances)
    for batch, (label, _, _, features) in zip(seen, utterances, strict=True):
        assert batch["voice"].shape == (1, len(features), 64)  # >= test_frames: the whole utterance
        np.testing.assert_allclose(batch["voice"].numpy()[0], features, atol=1e-4)
        assert int(batch["voice_label"][0]) == label


def test_load_faces(data_dir):
    info = load_info(data_dir)
    images, labels, genders = pipeline.load_faces(data_dir, "train")
    assert images.shape == (info.splits["train"]["faces"], 64, 64, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int32 and sorted(set(labels)) == list(range(info.num_classes))
    assert list(genders) == [info.genders("train")[i] for i in labels]
    same = pipeline.load_faces(data_dir, "train_heldout")
    np.testing.assert_array_equal(same[0], images)
    val = pipeline.load_faces(data_dir, "test")
    assert (
        val[0].shape[0] == info.splits["test"]["faces"]
        and val[1].max() < info.splits["test"]["num_classes"]
    )


def _utterance_ids(ds):
    return [
        tf.train.Example.FromString(s.numpy()).features.feature["utterance"].bytes_list.value[0]
        for s in ds
    ]


@pytest.mark.parametrize(
    "pipelines", [2, 20]
)  # by file (8 train shards) / by element (more pipelines)
def test_sharding_partitions_the_data(data_dir, pipelines):
    info = load_info(data_dir)
    files = info.files("train", "voices")
    everything = _utterance_ids(tf.data.TFRecordDataset(files))
    parts = []
    for i in range(pipelines):
        context = tf.distribute.InputContext(pipelines, i, pipelines)
        ds = pipeline._records(
            files, input_context=context, shuffle=True, seed=3, buffer=16, repeat=False
        )
        parts.append(_utterance_ids(ds))
    joined = [u for part in parts for u in part]
    assert sorted(joined) == sorted(everything) and len(set(joined)) == len(joined)


def test_mirrored_strategy_per_replica_batches(data_dir, tiny_config):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    ds = strategy.distribute_datasets_from_function(
        lambda context: pipeline.train_dataset(
            data_dir,
            tiny_config,
            context.get_per_replica_batch_size(4),
            input_context=context,
            seed=0,
        )
    )
    batch = next(iter(ds))
    shapes = [v.shape for v in strategy.experimental_local_results(batch["voice"])]
    assert len(shapes) == 2 and all(s[0] == 2 and s[2] == 64 for s in shapes)
    faces = strategy.experimental_local_results(batch["face"])
    assert all(f.shape == (2, 64, 64, 3) for f in faces)


def test_device_crops_equal_streamed_features(data_dir, tiny_config, monkeypatch):
    """Same seed, same windows: the step's featurisation of device batches equals the pipeline's."""
    monkeypatch.setattr(pipeline, "FEATURE_CACHE_BYTES", 0)
    streamed = list(pipeline.train_dataset(data_dir, tiny_config, 4, seed=5).take(4))
    monkeypatch.setattr(pipeline, "features_on", lambda config: "device")
    device = list(pipeline.train_dataset(data_dir, tiny_config, 4, seed=5).take(4))
    for a, b in zip(streamed, device, strict=True):
        np.testing.assert_array_equal(a["voice_label"].numpy(), b["voice_label"].numpy())
        np.testing.assert_allclose(
            _voice(b, tiny_config.audio).numpy(), a["voice"].numpy(), atol=1e-4
        )


def test_short_records_are_never_read(data_dir, tiny_config):
    """Shards hold their longest utterances first; a preset's minimum length reads only a prefix."""
    from s2f_tf.data import records

    info = load_info(data_dir)
    for path, frames in zip(
        info.files("train", "voices"), info.splits["train"]["voice_shard_frames"], strict=True
    ):
        stored = [
            int(records.parse_voice(s)["num_samples"]) // 160 + 1
            for s in tf.data.TFRecordDataset(path)
        ]
        assert stored == frames == sorted(frames, reverse=True)
    all_frames = info.splits["train"]["voice_frames"]
    cut = all_frames[len(all_frames) // 2]
    files, counts = info.voice_files("train", cut)
    assert sum(counts) == sum(f >= cut for f in all_frames)
    assert all(c > 0 for c in counts)


def test_utterances_shorter_than_the_crop_are_tiled(data_dir, tiny_config, feature_source):
    utterances = _utterances(data_dir, tiny_config)
    length = max(len(f) for _, _, _, f in utterances) + 3  # every utterance is tiled
    config = tiny_config.replace(
        audio={"train_min_frames": length, "train_max_frames": length, "min_utterance_frames": 1}
    )
    if feature_source in ("device", "streamed"):  # crops read from the shards: never tiled
        with pytest.raises(S2FError, match="never tiled"):
            pipeline.train_dataset(data_dir, config, 8, seed=3)
        return
    tiled = [
        (label, name, samples, np.concatenate([f] * (length // len(f) + 2)))
        for label, name, samples, f in utterances
    ]
    batch = next(iter(pipeline.train_dataset(data_dir, config, 8, seed=3)))
    for x, label in zip(batch["voice"].numpy(), batch["voice_label"].numpy(), strict=True):
        assert x.shape == (length, 64) and label in _find_window(x, tiled)
