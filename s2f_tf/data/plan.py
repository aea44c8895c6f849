"""The plan of `prepare`: scan the folders and decide identities, splits, labels and shard contents.

Nothing is decoded here: `plan(options)` reads `vox1_meta.csv`, lists each identity's voice and face files,
splits the identities (reference rule or a split file), holds out ~10 % of each training identity's
utterances as "train_heldout" and deals every file into shards in a seeded order. `s2f_tf.data.prepare`
writes what it decides.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import zlib
from pathlib import Path

import numpy as np

from s2f_tf.data.splits import file_splits, letter_splits, read_meta
from s2f_tf.errors import S2FError
from s2f_tf.synth import attributes as face_attributes

AUDIO_EXTENSIONS = (".wav", ".flac")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SPLITS = ("train", "train_heldout", "val", "test")


@dataclasses.dataclass(frozen=True)
class PrepareOptions:
    """What `prepare` reads, how it splits and what it keeps.

    Args:
        meta: vox1_meta.csv path. voices: the `wav/` root. faces: the face root. out: output directory.
        gender: "m" or "f" for a single-gender dataset; None keeps both.
        split: "letters" (reference rule) or "file" (`split_file`: lines `name<TAB>train|val|test`).
        split_file: see `split`.
        min_frames: utterances with fewer VAD'd frames are skipped (300 keeps the small preset usable).
        image_size: faces are resized to this square size.
        heldout_fraction: share of each training identity's utterances kept out as "train_heldout".
        voices_per_shard / faces_per_shard: shard sizes; min_shards: at least this many shards for train
            (and half of it, at least 2, for the other splits) so tf.data can shard across workers.
        workers: processes (default: all cores); 1 runs in this process.
    """

    meta: str
    voices: str
    faces: str
    out: str
    gender: str | None = None
    split: str = "letters"
    split_file: str | None = None
    min_frames: int = 300
    image_size: int = 64
    heldout_fraction: float = 0.1
    voices_per_shard: int = 256
    faces_per_shard: int = 2048
    min_shards: int = 8
    workers: int | None = None


# ---------------------------------------------------------------------------------------------------
# Files and held-out utterances.


def _files(folder: Path, extensions) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(extensions) and not name.startswith("."):
                found.append(os.path.relpath(os.path.join(root, name), folder))
    return found


def _heldout(name: str, count: int, fraction: float) -> set[int]:
    if count < 2 or fraction <= 0:
        return set()
    k = min(count - 1, max(1, round(fraction * count)))
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return set(rng.choice(count, k, replace=False).tolist())


def plan(options: PrepareOptions) -> dict:
    """Scan the folders and decide identities, splits, labels and shard contents (no decoding)."""
    _check_options(options)
    rows, skipped = read_meta(options.meta)
    filtered = collections.Counter()
    if options.gender:
        filtered["other_gender"] = sum(r["gender"] != options.gender for r in rows)
        rows = [r for r in rows if r["gender"] == options.gender]
    people = _people(rows, Path(options.voices), Path(options.faces), skipped)
    if options.split == "letters":
        split_of = letter_splits(people)
    else:
        split_of = file_splits(options.split_file, people)
        filtered["not_in_split_file"] = len(people) - len(split_of)
    splits = {}
    for split in ("train", "val", "test"):
        names = sorted(n for n in people if split_of.get(n) == split)
        splits[split] = {
            "names": names,
            "genders": [people[n]["gender"] for n in names],
            "voxceleb_ids": [people[n]["id"] for n in names],
        }
    splits["train_heldout"] = dict(splits["train"])
    labelled = _attributes(options.meta)
    return {
        "identities": {
            n: {k: p[k] for k in ("id", "gender", "nationality")}
            | {"split": split_of.get(n)}
            | labelled.get(n, {})
            for n, p in sorted(people.items())
        },
        "splits": splits,
        "shards": _shards(_items(people, splits, options), options),
        "skipped_identities": dict(skipped),
        "filtered_identities": {k: v for k, v in filtered.items() if v},
    }


def _attributes(meta) -> dict:
    """name -> {"attributes", "voice"} from the `attributes.csv` beside the meta file (a synthetic
    corpus's), or {} when there is none (real data)."""
    path = Path(meta).parent / face_attributes.FILE
    return face_attributes.read(path) if path.is_file() else {}


def _check_options(options: PrepareOptions) -> None:
    if options.gender not in (None, "m", "f"):
        raise S2FError(f"--gender must be m or f, got {options.gender!r}")
    if options.split not in ("letters", "file"):
        raise S2FError(f"--split must be letters or file, got {options.split!r}")
    if options.split == "file" and not options.split_file:
        raise S2FError("--split file needs --split-file")
    for label, folder in (("--voices", options.voices), ("--faces", options.faces)):
        if not Path(folder).is_dir():
            raise S2FError(f"{label} {folder}: not a directory")


def _people(rows, voices_root: Path, faces_root: Path, skipped) -> dict:
    """name -> meta row + its "utterances" and "images" (relative paths), for the identities that have
    both; the others are counted in `skipped`."""
    people = {}
    for row in rows:
        has_voices = (voices_root / row["id"]).is_dir()
        has_faces = (faces_root / row["name"]).is_dir()
        if not has_voices and not has_faces:
            skipped["missing_folders"] += 1
            continue
        if not has_voices:
            skipped["no_voice_folder"] += 1
            continue
        if not has_faces:
            skipped["no_face_folder"] += 1
            continue
        utterances = [f"{row['id']}/{p}" for p in _files(voices_root / row["id"], AUDIO_EXTENSIONS)]
        images = [f"{row['name']}/{p}" for p in _files(faces_root / row["name"], IMAGE_EXTENSIONS)]
        if not utterances:
            skipped["no_voice_files"] += 1
            continue
        if not images:
            skipped["no_face_files"] += 1
            continue
        people[row["name"]] = {**row, "utterances": utterances, "images": images}
    return people


def _items(people, splits, options: PrepareOptions) -> dict:
    """(kind, split) -> [(relative path, label, gender, name)]: every utterance and face, with the
    held-out utterances of training identities in train_heldout."""
    items = {("voices", s): [] for s in SPLITS} | {("faces", s): [] for s in SPLITS}
    for split in ("train", "val", "test"):
        for label, name in enumerate(splits[split]["names"]):
            person = people[name]
            held = _heldout(name, len(person["utterances"]), options.heldout_fraction)
            for k, utterance in enumerate(person["utterances"]):
                target = "train_heldout" if split == "train" and k in held else split
                items[("voices", target)].append((utterance, label, person["gender"], name))
            for image in person["images"]:
                items[("faces", split)].append((image, label, person["gender"], name))
    return items


def _shards(items, options: PrepareOptions) -> list[dict]:
    """Each (kind, split)'s items dealt into shards in a seeded order (at least `min_shards` for train)."""
    shards = []
    for (kind, split), entries in items.items():
        if not entries:
            continue
        per_shard = options.voices_per_shard if kind == "voices" else options.faces_per_shard
        at_least = options.min_shards if split == "train" else max(2, options.min_shards // 2)
        count = min(len(entries), max(at_least, math.ceil(len(entries) / per_shard)))
        order = np.random.default_rng(zlib.crc32(f"{kind}/{split}".encode())).permutation(
            len(entries)
        )
        for index in range(count):
            chosen = [entries[i] for i in order[index::count]]
            shards.append(
                {
                    "kind": kind,
                    "split": split,
                    "path": f"{kind}/{split}-{index:05d}-of-{count:05d}.tfrecord",
                    "items": chosen,
                }
            )
    return shards
