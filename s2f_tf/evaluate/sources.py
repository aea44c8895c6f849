"""Where evaluation reads its data: a prepared dataset, plus the pseudo-split "unseen" (val + test).

Any object with `info()`, `faces(split)` and `voices(split, config)` can stand in for `PipelineSource`
(the tests use constructed faces). `PipelineSource` also reads a *selection*: per label, the occurrence
indices to keep (the k-th face or utterance of that label in file order), so a bounded evaluation reads,
decodes and featurises only what it uses; the rest of a shard is skipped unparsed. `choose` draws such a
selection from the per-label counts `s2f prepare` stores (`faces_per_label`, `voices_per_label`).
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np

from s2f_tf.data.info import load_info
from s2f_tf.errors import S2FError

SEEN = "train_heldout"  # held-out utterances of the training identities
UNSEEN = "unseen"  # val and test together: every identity that training never saw
UNSEEN_PARTS = ("val", "test")
KINDS = {"voices": "voices_per_label", "faces": "faces_per_label"}
_STRIDE = 1 << 32  # key of a (label, occurrence) pair: label * _STRIDE + occurrence


# === Selections: per label, the sorted occurrence indices kept ===


def lookup(mapping, label):
    """mapping[label] for a list, or for a dict keyed by int or (as read from JSON) str."""
    if isinstance(mapping, dict):
        return mapping.get(label, mapping.get(str(label)))
    return mapping[label]


def split_info(info, split):
    """The info entry of one split of a prepared dataset; a one-line error when the dataset lacks it."""
    splits = info.splits if hasattr(info, "splits") else info["splits"]
    if split not in splits:
        raise S2FError(f"the dataset has no {split!r} split (it has {', '.join(sorted(splits))})")
    return splits[split]


def text_of(value):
    """A str from a str, bytes, numpy scalar/array or tensor (as tf.data yields them)."""
    value = np.asarray(value).reshape(-1)[0] if np.ndim(value) else value
    if hasattr(value, "numpy"):
        value = value.numpy()
    return value.decode() if isinstance(value, bytes) else str(value)


def choose(counts, cap, seed=0, salt=0):
    """Per label, at most `cap` of its `counts[label]` occurrences, or None when every label has at most
    `cap` (nothing to leave out). Each capped label draws its own sorted subset without replacement with
    `default_rng([seed, salt, label])`, so a label's choice does not depend on the others.

    Args:
        counts: int [L] items per label (file order numbering 0..count-1).
        cap: the most per label; None or 0 keeps everything.
        seed, salt: the draw's seed; `salt` tells apart selections drawn with one seed.
    """
    counts = np.asarray(counts, np.int64)
    if not cap or not len(counts) or counts.max() <= cap:
        return None
    keep = []
    for label, count in enumerate(counts):
        if count <= cap:
            keep.append(np.arange(count))
        else:
            rng = np.random.default_rng([seed, salt, label])
            keep.append(np.sort(rng.choice(count, cap, replace=False)))
    return keep


def occurrences(labels) -> np.ndarray:
    """The occurrence index of each position within its label (0 for a label's first item in order)."""
    labels = np.asarray(labels, np.int64)
    out = np.zeros(len(labels), np.int64)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        out[where] = np.arange(len(where))
    return out


def selected(labels, keep) -> np.ndarray:
    """Boolean mask of the positions of `labels` (in order) that the selection `keep` holds."""
    labels = np.asarray(labels, np.int64)
    if keep is None:
        return np.ones(len(labels), bool)
    keys = {int(label) * _STRIDE + int(o) for label, own in enumerate(keep) for o in own}
    occ = occurrences(labels)
    return np.array([int(a) * _STRIDE + int(b) in keys for a, b in zip(labels, occ, strict=True)])


def selection_size(keep, counts) -> int:
    return int(np.sum(counts)) if keep is None else int(sum(len(k) for k in keep))


def accepts(method, name) -> bool:
    """Whether a data source's method takes the keyword `name` (sources without selections do not)."""
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


# === The prepared dataset ===


class PipelineSource:
    """The prepared dataset read through `s2f_tf.data.pipeline` (load_info, load_faces, eval_voices), plus
    the pseudo-split "unseen" = val + test with test labels offset by val's identity count, and selective
    reads (`keep`) of a split's faces and utterances."""

    def __init__(self, data_dir):
        try:
            from s2f_tf.data import pipeline
        except ImportError as error:
            raise S2FError(f"the data pipeline is not available: {error}") from None
        self.data_dir = str(data_dir)
        self.pipeline = pipeline

    def info(self):
        info = load_info(self.data_dir)
        offsets = _unseen_offsets(info)
        if not offsets:
            return info
        parts = [info.splits[part] for part in offsets]
        union = {
            "num_classes": sum(int(p["num_classes"]) for p in parts),
            "names": [n for p in parts for n in _as_list(p["names"], p["num_classes"])],
            "genders": [g for p in parts for g in _as_list(p["genders"], p["num_classes"])],
            "parts": list(offsets),
        }
        for key in KINDS.values():
            if all(key in p for p in parts):
                union[key] = [int(c) for p in parts for c in p[key]]
        return dataclasses.replace(info, splits={**info.splits, UNSEEN: union})

    def counts(self, split, kind):
        """int [L] faces or utterances per label of `split` (prepare's counts), or None if not stored."""
        entry = self.info().splits.get(split, {})
        if kind == "faces" and "face_split" in entry:  # train_heldout's faces are train's
            entry = self.info().splits[entry["face_split"]]
        counts = entry.get(KINDS[kind])
        return None if counts is None else np.asarray(counts, np.int64)

    def faces(self, split, keep=None):
        """(uint8 images [N, S, S, 3], int32 labels [N], genders [N]) of `split` in file order; with `keep`
        (per label, the occurrence indices to read) only those, the other records skipped undecoded."""
        if split == UNSEEN:
            info = self.info()
            offsets = _unseen_offsets(info)
            loaded = {
                part: self.faces(part, _part_keep(keep, offsets, part, info, "faces"))
                for part in offsets
            }
            return (
                np.concatenate([loaded[p][0] for p in offsets]),
                np.concatenate([loaded[p][1] + offsets[p] for p in offsets]),
                np.concatenate([loaded[p][2] for p in offsets]),
            )
        if keep is None:
            return self.pipeline.load_faces(self.data_dir, split)
        from s2f_tf.data import records

        info = load_info(self.data_dir)
        size = info.image_size
        files = info.files(split, "faces")
        ds = None
        if files:
            ds = _kept_records(files, records.FACE_FEATURES["label"], keep)
            ds = ds.map(lambda s: records.parse_face(s, size)).batch(1024)
        return self.pipeline.collect_faces(ds, size)

    def voices(self, split, config, keep=None):
        """Every utterance of `split` by the test rule of docs/recipe.md (as `pipeline.eval_voices`: one per element,
        batched by 1); with `keep` only the selected ones, featurised after the selection."""
        if split == UNSEEN:
            info = self.info()
            offsets = _unseen_offsets(info)
            datasets = [
                self.voices(part, config, _part_keep(keep, offsets, part, info, "voices")).map(
                    lambda item, shift=shift: {**item, "voice_label": item["voice_label"] + shift}
                )
                for part, shift in offsets.items()
            ]
            combined = datasets[0]
            for ds in datasets[1:]:
                combined = combined.concatenate(ds)
            return combined
        if keep is None:
            return self.pipeline.eval_voices(self.data_dir, config, split)
        return _selected_voices(load_info(self.data_dir), config, split, keep)


def _kept_records(files, label_feature, keep):
    """Serialized records of `files` (read in order) whose (label, occurrence in label) `keep` holds.

    Only the label is parsed to decide; a scan numbers each label's records in file order."""
    import tensorflow as tf

    keys = [label * _STRIDE + int(o) for label, own in enumerate(keep) for o in own]
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys or [-1], tf.int64), tf.ones([max(len(keys), 1)], tf.int64)
        ),
        default_value=0,
    )
    num_labels = len(keep)

    def number(seen, serialized):
        label = tf.io.parse_single_example(serialized, {"label": label_feature})["label"]
        slot = tf.clip_by_value(label, 0, num_labels)  # labels past the selection: one spare slot
        occurrence = seen[slot]
        seen = tf.tensor_scatter_nd_add(seen, [[slot]], [tf.constant(1, tf.int64)])
        key = tf.where(label < num_labels, label * _STRIDE + occurrence, tf.constant(-1, tf.int64))
        return seen, (serialized, key)

    ds = tf.data.TFRecordDataset(files).scan(tf.zeros([num_labels + 1], tf.int64), number)
    return ds.filter(lambda serialized, key: table.lookup(key) > 0).map(lambda s, key: s)


def _selected_voices(info, config, split, keep):
    """`pipeline.eval_voices` restricted to the selected utterances (same element layout and numbers)."""
    import tensorflow as tf

    from s2f_tf.data import crops, records
    from s2f_tf.frontend import LogMelSpectrogram

    files = info.files(split, "voices")
    if not files:
        raise S2FError("the split has no shards (no identities or no data)")
    frontend = LogMelSpectrogram(config.audio)
    test_frames = config.audio.test_frames

    def test_rule(
        features,
    ):  # docs/recipe.md, front-end step 8: shorter than test_frames -> tiled, cut at test_frames
        frames = tf.shape(features)[0]
        tiled = tf.tile(features, [(test_frames + frames - 1) // frames, 1])[:test_frames]
        return tf.cond(frames < test_frames, lambda: tiled, lambda: features)

    def load(serialized):
        record = records.parse_voice(serialized)
        features = frontend(crops.waveform(record["samples"]))[0]
        return {
            "voice": test_rule(features),
            "voice_label": record["label"],
            "gender": record["gender"],
            "identity": record["identity"],
            "utterance": record["utterance"],
            "samples": record["samples"],
        }

    ds = _kept_records(files, records.VOICE_FEATURES["label"], keep)
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(1).prefetch(tf.data.AUTOTUNE)


def _part_keep(keep, offsets, part, info, kind):
    """The selection of one part of "unseen" (its labels start at offsets[part]); None when it keeps all
    of that part (then the part is read as the pipeline reads it)."""
    if keep is None:
        return None
    count = int(info.splits[part]["num_classes"])
    own = keep[offsets[part] : offsets[part] + count]
    counts = info.splits[part].get(KINDS[kind])
    if counts is not None and all(len(k) == c for k, c in zip(own, counts, strict=True)):
        return None
    return own


def _unseen_offsets(info) -> dict:
    """{part: label offset} of the non-empty unseen splits, in UNSEEN_PARTS order."""
    offsets, total = {}, 0
    for part in UNSEEN_PARTS:
        count = int(info.splits.get(part, {}).get("num_classes", 0))
        if count:
            offsets[part] = total
            total += count
    return offsets


def _as_list(mapping, count):
    return [lookup(mapping, i) for i in range(int(count))]
