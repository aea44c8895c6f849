"""What `s2f prepare` wrote: `dataset.json` read back as a `DatasetInfo`, with its shards checked."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from s2f_tf.data import splits
from s2f_tf.errors import S2FError

FORMAT = "s2f_tf.prepared/3"  # /2: records carry their moments, longest first; /3: + shard indexes
DATASET = "dataset.json"  # what `s2f prepare` writes at the top of a prepared directory


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What `s2f prepare` wrote (dataset.json), with shard paths made absolute.

    Args:
        data_dir: the prepared directory.
        splits: split -> {"num_classes", "names" (label -> name), "genders" (label -> "m"/"f"),
            "voxceleb_ids", "voices", "faces", "speech_seconds", "voice_shards", "face_shards",
            "face_split", "voices_per_label", "faces_per_label", "voice_frames" (sorted 10 ms frame
            counts of the VAD'd utterances), "voice_shard_frames" (each voice shard's frame counts in
            record order: longest first)}; splits are "train", "train_heldout"
            (utterances kept out of training, train labels and faces), "val" and "test".
        num_classes: identities in "train".
        image_size: face side in pixels. sample_rate: audio rate. min_frames: prepare's minimum length.
        identities: name -> {"id", "gender", "nationality", "split"}, plus, from a synthetic corpus,
            "attributes" (face attribute -> class) and "voice" (the voice latents), `s2f_tf.synth.attributes`.
        options: the prepare options used.

    Example:
    >>> info = load_info("data/prepared")
    >>> info.splits["train"]["names"][0], info.num_classes
    """

    data_dir: str
    splits: dict
    num_classes: int
    image_size: int
    sample_rate: int
    min_frames: int
    identities: dict
    options: dict

    def names(self, split: str = "train") -> list[str]:
        return list(self.split(split)["names"])

    def genders(self, split: str = "train") -> list[str]:
        return list(self.split(split)["genders"])

    def split(self, split: str) -> dict:
        if split not in self.splits:
            raise S2FError(f"{self.data_dir}: no split {split!r}; have {', '.join(self.splits)}")
        return self.splits[split]

    def files(self, split: str, kind: str) -> list[str]:
        """Absolute shard paths of `kind` ("voices" or "faces"); faces of train_heldout are train's."""
        entry = self.split(split)
        if kind == "faces":
            entry = self.split(entry["face_split"])
        key = "voice_shards" if kind == "voices" else "face_shards"
        return [str(Path(self.data_dir) / p) for p in entry[key]]

    def voice_files(self, split: str, min_frames: int = 0) -> tuple[list[str], list[int]]:
        """(shard paths, records to read of each): the voice shards of `split` that hold utterances of
        at least `min_frames` frames, and how many (records are stored longest first)."""
        entry = self.split(split)
        paths, counts = [], []
        for path, frames in zip(
            self.files(split, "voices"), entry["voice_shard_frames"], strict=True
        ):
            count = sum(f >= min_frames for f in frames)
            if count:
                paths.append(path)
                counts.append(count)
        return paths, counts


def _relative_inside(shard) -> bool:
    """A shard path from dataset.json names a file below the dataset directory (the file may be edited:
    nothing outside it is read through names taken from it)."""
    if not isinstance(shard, str) or not shard or "\0" in shard:
        return False
    parts = Path(shard).parts
    return not Path(shard).is_absolute() and ".." not in parts and bool(parts)


def load_info(data_dir) -> DatasetInfo:
    """Read `data_dir/dataset.json`; S2FError if it is not a complete prepared dataset."""
    path = Path(data_dir) / DATASET
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise S2FError(f"{data_dir}: no {DATASET} (run `s2f prepare` first)") from None
    except NotADirectoryError:
        raise S2FError(f"{data_dir}: not a directory (a dataset of `s2f prepare`)") from None
    except (OSError, ValueError) as error:
        raise S2FError(f"{path}: unreadable ({error})") from None
    found = data.get("format") if isinstance(data, dict) else None
    if isinstance(found, str) and found.startswith("s2f_tf.prepared/") and found != FORMAT:
        raise S2FError(
            f"{data_dir} was prepared by another version of s2f ({found}, this one reads {FORMAT}):"
            " run `s2f prepare` again into a new --out"
        )
    if found != FORMAT:
        raise S2FError(f"{path}: not a dataset written by `s2f prepare` ({FORMAT})")
    try:
        for split, entry in data["splits"].items():
            for shard in entry["voice_shards"] + entry["face_shards"]:
                if not _relative_inside(shard):
                    raise S2FError(
                        f"{path}: shard {shard!r} of split {split} is outside {data_dir}"
                    )
                if not (Path(data_dir) / shard).is_file():
                    raise S2FError(f"{data_dir}: shard {shard} of split {split} is missing")
            if len(entry["names"]) != entry["num_classes"]:
                raise ValueError(f"split {split}: {len(entry['names'])} names for num_classes")
        identities = data["identities"]
        for name, identity in identities.items():
            if not splits.is_plain_name(str(identity["id"])) or not splits.is_plain_name(name):
                raise S2FError(f"{path}: identity {name!r} has an unsafe name or id")
        return DatasetInfo(
            data_dir=str(data_dir),
            splits=data["splits"],
            num_classes=int(data["num_classes"]),
            image_size=int(data["image_size"]),
            sample_rate=int(data["sample_rate"]),
            min_frames=int(data["min_frames"]),
            identities=identities,
            options=data["options"],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise S2FError(
            f"{path}: damaged or edited ({type(error).__name__}: {error}); run `s2f prepare` again"
        ) from None
