"""`prepare`: VoxCeleb1 voices + VGGFace1 faces (or the synthetic corpus) -> TFRecord shards + dataset.json.

Steps: read `vox1_meta.csv` and join identities (VoxCeleb1 ID -> voice folder, VGGFace1 name -> face folder);
split them (reference rule: names starting A-E are held out and divided into val and test, F-Z train; or a
split file); hold out ~10 % of each training identity's utterances as "train_heldout" (same labels as
"train"); label sorted names 0..K-1 per split; then a process pool decodes, VADs and resizes each shard's
files, computes each utterance's log-mel moments (stored with it, so training never re-reads the corpus to
normalise crops) and writes the shard itself (`s2f_tf.data.shards`): memory is one shard per worker.

    OUT/plan.json                               the options and file lists (a rerun must match it)
    OUT/voices/<split>-NNNNN-of-NNNNN.tfrecord   longest utterance first (+ .json: that shard's counts and
                                                frame counts in record order; + .index.npz: where each
                                                record's samples are in the file; both written before it)
    OUT/faces/<split>-NNNNN-of-NNNNN.tfrecord
    OUT/dataset.json                            splits, label maps, genders, counts, options (and each
                                                identity's face attributes when the corpus has them)
    OUT/.lock                                   locked by the prepare running there (s2f_tf.locks)

A synthetic corpus (`s2f synth`) also holds `attributes.csv` beside `vox1_meta.csv` (not part of the real
layout): when it is there, each identity's face attributes and voice latents (`s2f_tf.synth.attributes`)
go into dataset.json's `identities`, for the attribute judge of `s2f evaluate`.

Every shard is written to a temporary name and renamed when complete, so a rerun skips finished shards and
never reads a half-written one. Bad files are skipped and counted by reason; nothing aborts the run.

Example:
>>> summary = prepare(PrepareOptions(meta="c/vox1_meta.csv", voices="c/wav", faces="c/faces", out="d"))
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import hashlib
import json
import math
import os
import time
import zlib
from pathlib import Path

import numpy as np
import tqdm

from s2f_tf.config import AudioConfig
from s2f_tf.data import shards as shard_io
from s2f_tf.data.info import DATASET, FORMAT
from s2f_tf.data.splits import file_splits, letter_splits, read_meta
from s2f_tf.errors import S2FError
from s2f_tf.files import atomic_write_json
from s2f_tf.locks import exclusive
from s2f_tf.pools import process_pool
from s2f_tf.synth import attributes as face_attributes

PLAN = "plan.json"
LOCK = ".lock"  # held by the one prepare writing the folder
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


def _fingerprint(options: PrepareOptions, layout: dict) -> dict:
    kept = dataclasses.asdict(options)
    for key in ("out", "workers"):
        kept.pop(key)
    digest = hashlib.sha256(json.dumps(layout["shards"], sort_keys=True).encode()).hexdigest()
    return {"format": FORMAT, "options": kept, "shards_sha256": digest}


def prepare(options: PrepareOptions) -> dict:
    """Run the whole preparation; returns the JSON summary (also stored in dataset.json)."""
    start = time.perf_counter()
    out = Path(options.out)
    layout = plan(options)
    if not layout["splits"]["train"]["names"]:
        raise S2FError("no training identities after joining meta, voices and faces")
    out.mkdir(parents=True, exist_ok=True)
    # One prepare per folder: another one's temporary shards are never taken for leftovers.
    with exclusive(out / LOCK, "prepare", what=f"dataset directory {out}"):
        return _prepare(options, layout, out, start)


def _prepare(options: PrepareOptions, layout: dict, out: Path, start: float) -> dict:
    fingerprint = _fingerprint(options, layout)
    plan_path = out / PLAN
    if plan_path.is_file():
        previous = json.loads(plan_path.read_text())
        if previous != json.loads(json.dumps(fingerprint)):
            raise S2FError(f"{out} was prepared from other inputs or options; use a new --out")
    else:
        atomic_write_json(plan_path, fingerprint)
    for kind in ("voices", "faces"):
        (out / kind).mkdir(exist_ok=True)
        for stale in (out / kind).glob(".*.tmp"):  # left by an interrupted run; never read
            stale.unlink(missing_ok=True)

    stats = {}
    todo = []
    for shard in layout["shards"]:
        done = shard_io.finished(out, shard)
        if done is None:
            todo.append(shard)
        else:
            stats[shard["path"]] = done
    reused = len(stats)
    workers = max(1, min(options.workers or os.cpu_count() or 1, len(todo) or 1))
    args = (str(out), options.voices, options.faces, options.min_frames, options.image_size)
    bar = tqdm.tqdm(
        total=sum(len(s["items"]) for s in todo), desc="prepare", unit="file", leave=False
    )
    if workers == 1:
        for shard in todo:
            stats[shard["path"]] = shard_io.write_shard(shard, *args)
            bar.update(len(shard["items"]))
    else:
        # Workers write their shards and return only stats: nothing decoded passes through here.
        with process_pool(workers, initializer=shard_io.init_worker) as pool:
            futures = {pool.submit(shard_io.write_shard, shard, *args): shard for shard in todo}
            for future in concurrent.futures.as_completed(futures):
                shard = futures.pop(future)
                stats[shard["path"]] = future.result()
                bar.update(len(shard["items"]))
    bar.close()
    elapsed = time.perf_counter() - start

    dataset = _dataset_json(options, layout, stats)
    atomic_write_json(out / DATASET, dataset)
    processed = sum(len(s["items"]) for s in todo if s["kind"] == "voices")
    summary = {
        "out": str(out),
        "identities": {s: dataset["splits"][s]["num_classes"] for s in SPLITS},
        "utterances": {s: dataset["splits"][s]["voices"] for s in SPLITS},
        "faces": {s: dataset["splits"][s]["faces"] for s in SPLITS},
        "speech_seconds": {s: dataset["splits"][s]["speech_seconds"] for s in SPLITS},
        "skipped": dataset["skipped"],
        "filtered_identities": dataset["filtered_identities"],
        "identities_with_attributes": sum(
            "attributes" in p for p in dataset["identities"].values()
        ),
        "labels_without_data": {
            f"{s}/{kind}": n
            for s in SPLITS
            for kind in ("voices", "faces")
            if (n := dataset["splits"][s][f"{kind}_per_label"].count(0))
            and dataset["splits"][s][f"{kind[:-1]}_shards"]
        },
        "shards": {"written": len(todo), "reused": reused},
        "workers": workers,
        "elapsed_s": round(elapsed, 2),
        "utterances_per_s": round(processed / elapsed, 1) if processed else None,
    }
    return summary


def _dataset_json(options: PrepareOptions, layout: dict, stats: dict) -> dict:
    skipped = {"identities": layout["skipped_identities"], "utterances": {}, "faces": {}}
    splits = {}
    for split in SPLITS:
        info = layout["splits"][split]
        k = len(info["names"])
        entry = {
            "num_classes": k,
            "names": info["names"],
            "genders": info["genders"],
            "voxceleb_ids": info["voxceleb_ids"],
            "face_split": "train" if split == "train_heldout" else split,
            "voices": 0,
            "faces": 0,
            "speech_seconds": 0.0,
            "voice_shards": [],
            "face_shards": [],
            "voices_per_label": [0] * k,
            "faces_per_label": [0] * k,
            "voice_frames": [],
            "voice_shard_frames": [],
        }
        for shard in layout["shards"]:
            if shard["split"] != split:
                continue
            s = stats[shard["path"]]
            kind = shard["kind"]
            singular = "voice" if kind == "voices" else "face"
            entry[kind] += s["count"]
            entry[f"{singular}_shards"].append(shard["path"])
            for label, n in s["labels"].items():
                entry[f"{kind}_per_label"][int(label)] += n
            entry["speech_seconds"] += s["seconds"]
            if kind == "voices":
                entry["voice_frames"] += s["frames"]
                entry["voice_shard_frames"].append(s["frames"])
            bucket = skipped["utterances" if kind == "voices" else "faces"]
            for reason, n in s["skipped"].items():
                bucket[reason] = bucket.get(reason, 0) + n
        entry["speech_seconds"] = round(entry["speech_seconds"], 1)
        entry["voice_frames"].sort()
        splits[split] = entry
    options_dict = dataclasses.asdict(options)
    options_dict.pop("workers")  # does not change the data
    return {
        "format": FORMAT,
        "options": options_dict,
        "sample_rate": AudioConfig().sample_rate,
        "min_frames": options.min_frames,
        "image_size": options.image_size,
        "num_classes": splits["train"]["num_classes"],
        "splits": splits,
        "identities": layout["identities"],
        "skipped": skipped,
        "filtered_identities": layout["filtered_identities"],
    }
