"""s2f_tf.data.crop_reader: crops read from the shards by byte range equal cropping the whole utterance."""

import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import prepare_small_corpus

from s2f_tf.data import crops, records
from s2f_tf.data.crop_reader import KEYS, CropReader
from s2f_tf.data.info import load_info
from s2f_tf.errors import S2FError
from s2f_tf.frontend import LogMelSpectrogram


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return prepare_small_corpus(
        tmp_path_factory.mktemp("crop_reader"), seed=4, identities=10, utterances=4
    )


def _records_in_reader_order(data_dir):
    info = load_info(data_dir)
    files, _ = info.voice_files("train", 1)
    return [records.parse_voice(s) for s in tf.data.TFRecordDataset(files)]


@pytest.fixture(scope="module")
def reader(data_dir):
    from s2f_tf.config import preset

    audio = preset("tiny").replace(audio={"min_utterance_frames": 1}).audio  # every utterance
    return CropReader(load_info(data_dir), "train", audio)


def test_index_points_at_each_records_samples(data_dir, reader):
    stored = _records_in_reader_order(data_dir)
    assert len(reader) == len(stored) > 20
    for i, record in enumerate(stored):
        samples = record["samples"].numpy()
        assert reader.num_samples[i] == samples.size
        assert reader.label[i] == int(record["label"])
        np.testing.assert_array_equal(reader.mean[i], record["mean"].numpy())
        np.testing.assert_array_equal(reader.variance[i], record["variance"].numpy())
        frames = reader.frames[i]
        whole = reader.crops([i], int(frames), [0])
        assert whole["voice_samples"][0] == samples.size
        np.testing.assert_array_equal(whole["voice_wave"][0, : samples.size], samples)
        assert not whole["voice_wave"][0, samples.size :].any()


def test_crop_features_equal_cropping_the_whole_utterance(data_dir, reader):
    """Every crop, featurised from the bytes it covers with the stored moments, equals the same window
    of the whole utterance's features: at the start, the end and in between, for short and long crops."""
    audio = reader.audio
    raw = LogMelSpectrogram(audio, normalize=False)
    checked = 0
    for i, record in enumerate(_records_in_reader_order(data_dir)[:12]):
        samples = record["samples"]
        whole = LogMelSpectrogram(audio)(crops.waveform(samples))[0].numpy()
        unnormalised = raw(crops.waveform(samples))[0].numpy()
        np.testing.assert_allclose(reader.mean[i], unnormalised.mean(0), atol=1e-4)
        np.testing.assert_allclose(reader.variance[i], unnormalised.var(0), rtol=1e-3, atol=1e-4)
        frames = len(whole)
        assert frames == reader.frames[i]
        for length in (1, 7, frames // 2, frames):
            starts = sorted({0, 1, 2, (frames - length) // 2, frames - length - 1, frames - length})
            starts = [s for s in starts if 0 <= s <= frames - length]
            batch = reader.crops([i] * len(starts), length, starts)
            assert batch["voice_wave"].shape == (len(starts), length * 160 + 400)
            featurised = crops.featurize_batch(raw, batch).numpy()
            for s, crop in zip(starts, featurised, strict=True):
                assert crop.shape == (length, 64)
                np.testing.assert_allclose(crop, whole[s : s + length], atol=1e-4)
                checked += 1
    assert checked > 50


def test_a_crop_reads_only_the_bytes_it_covers(reader, monkeypatch):
    read = []
    real = os.preadv

    def counting(fd, buffers, offset):
        read.append(sum(memoryview(b).nbytes for b in buffers))
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, "preadv", counting)
    long = int(np.argmax(reader.frames))
    batch = reader.crops([long, long], 5, [0, reader.frames[long] - 5])
    # The first crop has no frame before it; the last one reads from frame start - 1 to the last sample.
    to_the_end = int(reader.num_samples[long]) - (int(reader.frames[long]) - 6) * 160
    assert read == [2 * (4 * 160 + 400), 2 * to_the_end] and to_the_end < 5 * 160 + 400
    assert list(batch["voice_skip"]) == [0, 1]
    with pytest.raises(ValueError, match="past its utterance"):
        reader.crops([long], 5, [reader.frames[long] - 4])


def test_epochs_are_permutations_and_seeded(reader):
    n = len(reader)
    ds = reader.dataset(1, seed=3)
    labels = np.array([int(b["voice_label"][0]) for b in ds.take(2 * n)])
    for epoch in (labels[:n], labels[n:]):
        np.testing.assert_array_equal(np.sort(epoch), np.sort(reader.label))
    assert not np.array_equal(labels[:n], labels[n:])  # a fresh order each epoch
    again = [int(b["voice_label"][0]) for b in reader.dataset(1, seed=3).take(n)]
    other = [int(b["voice_label"][0]) for b in reader.dataset(1, seed=4).take(n)]
    assert again == list(labels[:n]) and other != again
    one_epoch = list(reader.dataset(4, seed=0, repeat=False))
    assert len(one_epoch) == n // 4 and set(one_epoch[0]) == set(KEYS)


def test_input_pipelines_read_disjoint_utterances(reader):
    n = len(reader)
    seen = []
    for pipeline_id in range(3):
        context = tf.distribute.InputContext(3, pipeline_id, 1)
        ds = reader.dataset(1, seed=1, input_context=context, repeat=False)
        seen.append([tuple(b["voice_mean"][0].numpy()[:4]) for b in ds])
    assert sum(len(s) for s in seen) == n
    assert len(set().union(*map(set, seen))) == len(set(map(tuple, reader.mean[:, :4])))


def test_a_missing_index_is_one_clear_error(data_dir, tiny_config, tmp_path):
    import shutil

    from s2f_tf.data.shards import index_path

    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    info = load_info(copy)
    index_path(info.files("train", "voices")[0]).unlink()
    with pytest.raises(S2FError, match="shard index"):
        CropReader(info, "train", tiny_config.audio)


@pytest.mark.parametrize(
    "edit",
    [
        {"offset": lambda v: v + 10**9},  # past the end of the shard
        {"num_samples": lambda v: v + 160},  # another length than dataset.json's frame counts
        {"label": lambda v: v + 1000},  # no such identity
        {"variance": lambda v: -v},
    ],
    ids=["offset", "num_samples", "label", "variance"],
)
def test_an_index_that_does_not_match_its_shard_is_one_clear_error(
    edit, data_dir, tiny_config, tmp_path
):
    """A damaged or edited index would make training read other bytes than the utterances'."""
    import shutil

    from s2f_tf.data.shards import index_path

    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    info = load_info(copy)
    path = index_path(info.files("train", "voices")[0])
    with np.load(path) as index:
        columns = {key: index[key] for key in index.files}
    ((key, change),) = edit.items()
    columns[key] = change(columns[key])
    with open(path, "wb") as f:
        np.savez(f, **columns)
    with pytest.raises(S2FError, match="does not match its shard and dataset.json"):
        CropReader(info, "train", tiny_config.audio)
