"""What `prepare` records when its shards are written: dataset.json's contents and the JSON summary.

`dataset_json` adds up each shard's stats (counts, labels, frames, skipped files) per split beside the
plan's identities and options; `summary` is the line `s2f prepare` prints.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from s2f_tf.config import AudioConfig
from s2f_tf.data.info import FORMAT
from s2f_tf.data.plan import SPLITS, PrepareOptions


def dataset_json(options: PrepareOptions, layout: dict, stats: dict) -> dict:
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


def summary(
    out: Path,
    dataset: dict,
    *,
    written: int,
    reused: int,
    workers: int,
    elapsed: float,
    processed: int,
) -> dict:
    """The JSON summary `s2f prepare` prints: counts per split from `dataset`, shards written and
    reused, and the run's speed (`processed` utterances in `elapsed` seconds)."""
    return {
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
        "shards": {"written": written, "reused": reused},
        "workers": workers,
        "elapsed_s": round(elapsed, 2),
        "utterances_per_s": round(processed / elapsed, 1) if processed else None,
    }
