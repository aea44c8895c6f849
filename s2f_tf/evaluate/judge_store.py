"""The judges trained once per dataset and reused by every evaluation of it (any work directory, any run).

Layout: `DATA/judges/<key>/` with `judges.json` (what the key was made of, the training figures, the
held-out selection's size) and `identity.weights.h5`, `gender.weights.h5` (and, on a dataset with face
attribute labels, `attributes.npz`: the attribute judge's heads). The key hashes the dataset's
fingerprint (SHA-256 of `dataset.json` plus the sizes of the training face shards) and every option that
changes the judges: steps, batch, learning rate, held-out fraction, faces per identity, seed, and the
judge's architecture (the work directory's face_channels, embedding_dim, leaky ReLU slope; and the
attribute judge's, on a dataset with attribute labels only, so real data keeps its keys). Two work
directories of one preset evaluated on one dataset therefore share their judges; another preset, another
option or a re-prepared dataset gets its own. A cache directory is written whole (a temporary sibling,
then a rename), so a reader never sees half of one. When the dataset directory is not writable the
judges go to the evaluation's output directory instead (`FALLBACK/judges/<key>/`); lookups try the
dataset directory first, then that one. Restored judges give bit-identical logits (float32 weights).

Example:
>>> judges, status = load_or_train(source, info, config.model, options, fallback="runs/x/eval")
>>> status["judges"]
'cached'
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from s2f_tf.evaluate import attribute_judge
from s2f_tf.evaluate.attribute_judge import AttributeHeads
from s2f_tf.evaluate.classifiers import FaceClassifier, TrainedClassifier
from s2f_tf.evaluate.judges import Judges, judge_faces, train_judges
from s2f_tf.files import atomic_directory, atomic_write_json

FORMAT = "s2f_tf.judges/1"
DIRECTORY = "judges"
NAMES = ("identity", "gender")
ATTRIBUTES = "attributes.npz"  # the attribute judge's heads


def fingerprint(data_dir) -> str:
    """SHA-256 of the dataset's `dataset.json` and the byte sizes of its training face shards."""
    from s2f_tf.data.info import DATASET

    data_dir = Path(data_dir)
    digest = hashlib.sha256((data_dir / DATASET).read_bytes())
    data = json.loads((data_dir / DATASET).read_text())
    for shard in data["splits"]["train"]["face_shards"]:
        digest.update(f"{shard}:{(data_dir / shard).stat().st_size}\n".encode())
    return digest.hexdigest()


def judge_key(data_dir, model_config, options) -> tuple[str, dict]:
    """(key, what it hashes): the cache key of the judges of one dataset, options and architecture."""
    made_of = {
        "format": FORMAT,
        "dataset": fingerprint(data_dir),
        "steps": options.classifier_steps,
        "batch_size": options.classifier_batch,
        "learning_rate": options.classifier_learning_rate,
        "heldout_fraction": options.heldout_fraction,
        "faces_per_identity": options.classifier_faces or None,
        "seed": options.seed,
        "face_channels": list(model_config.face_channels),
        "embedding_dim": model_config.embedding_dim,
        "leaky_relu_slope": model_config.leaky_relu_slope,
    }
    if _has_attribute_labels(data_dir):
        made_of["attributes"] = {"judge": attribute_judge.VERSION, "l2": attribute_judge.L2}
    text = json.dumps(made_of, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], made_of


def _has_attribute_labels(data_dir) -> bool:
    from s2f_tf.data.info import DATASET

    data = json.loads((Path(data_dir) / DATASET).read_text())
    return any("attributes" in person for person in data.get("identities", {}).values())


def save(judges: Judges, directory, made_of) -> Path:
    """Writes `judges` to `directory` atomically; if another process wrote it first, keeps theirs."""
    directory = Path(directory)
    try:
        with atomic_directory(directory) as tmp:
            for name in NAMES:
                getattr(judges, name).model.save_weights(str(tmp / f"{name}.weights.h5"))
            if judges.attributes is not None:
                np.savez(tmp / ATTRIBUTES, **judges.attributes.arrays())
            atomic_write_json(
                tmp / "judges.json",
                {
                    "made_of": made_of,
                    "num_classes": judges.num_classes,
                    "heldout_faces": int(len(judges.heldout.labels)),
                    "attribute_classes": None
                    if judges.attributes is None
                    else {k: list(v) for k, v in judges.attributes.classes.items()},
                    "summary": judges.summary,
                    "training": {
                        name: {
                            "steps": getattr(judges, name).steps,
                            "final_loss": getattr(judges, name).final_loss,
                            "final_accuracy": getattr(judges, name).final_accuracy,
                            "train_samples": getattr(judges, name).train_samples,
                            "num_classes": getattr(judges, name).model.num_classes,
                        }
                        for name in NAMES
                    },
                },
            )
    except FileExistsError:
        pass  # written meanwhile by a concurrent evaluation of the same data: same key, same judges
    return directory


def load(directory, model_config, source, info, options, made_of) -> Judges | None:
    """The judges stored in `directory`, or None when it holds none (or others than `made_of`)."""
    directory = Path(directory)
    try:
        stored = json.loads((directory / "judges.json").read_text())
    except (OSError, ValueError):
        return None
    if stored.get("made_of") != made_of:
        return None
    _, heldout = judge_faces(source, info, options, heldout_only=True)
    if len(heldout.labels) != stored["heldout_faces"]:
        return None
    size = int(info.image_size) if hasattr(info, "image_size") else heldout.images.shape[1]
    classifiers = {}
    for name in NAMES:
        figures = stored["training"][name]
        model = FaceClassifier.from_model_config(
            model_config, figures["num_classes"], name="face_classifier"
        )
        model.build((None, size, size, 3))
        model.load_weights(str(directory / f"{name}.weights.h5"))
        classifiers[name] = TrainedClassifier(
            model=model,
            steps=figures["steps"],
            final_loss=figures["final_loss"],
            final_accuracy=figures["final_accuracy"],
            train_samples=figures["train_samples"],
        )
    heads = None
    if stored.get("attribute_classes"):
        try:
            with np.load(directory / ATTRIBUTES) as arrays:
                heads = AttributeHeads.from_arrays(stored["attribute_classes"], arrays)
        except (OSError, KeyError, ValueError):
            return None  # an entry without its heads: train anew
    elif "attributes" in made_of:
        return None
    return Judges(
        classifiers["identity"],
        classifiers["gender"],
        heldout,
        int(stored["num_classes"]),
        stored["summary"],
        heads,
    )


def load_or_train(source, info, model_config, options, fallback=None, retrain=False):
    """(Judges, status): the cached judges of this dataset and options, else trained here and cached.

    Args:
        source: the data source; caching needs its `data_dir` (a `PipelineSource`); others just train.
        info: the source's info. model_config: the judges' architecture. options: `EvalOptions`.
        fallback: where to cache when the dataset directory is not writable (evaluate's --out).
        retrain: train anew even when cached, and replace the cache.

    status: {"judges": "cached" | "trained", "cache": directory or None, "key": key or None}.
    """
    data_dir = getattr(source, "data_dir", None)
    if data_dir is None or not options.judge_cache:
        return train_judges(source, info, model_config, options), _status("trained", None, None)
    key, made_of = judge_key(data_dir, model_config, options)
    places = [Path(data_dir) / DIRECTORY / key]
    if fallback is not None:
        places.append(Path(fallback) / DIRECTORY / key)
    if not retrain:
        for place in places:
            judges = load(place, model_config, source, info, options, made_of)
            if judges is not None:
                return judges, _status("cached", place, key)
    judges = train_judges(source, info, model_config, options)
    for place in places:
        if not _writable(place.parent):
            continue
        try:
            if retrain:
                _remove(place)
            return judges, _status("trained", save(judges, place, made_of), key)
        except OSError:  # e.g. a full disk: try the next place, else keep the judges uncached
            continue
    return judges, _status("trained", None, key)


def _status(how, place, key):
    return {"judges": how, "cache": None if place is None else str(place), "key": key}


def _writable(directory) -> bool:
    """Whether a cache entry can be created under `directory` (created if missing)."""
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def _remove(place):
    """Moves an existing cache entry aside and deletes it (a reader sees the old entry or none)."""
    import shutil
    import tempfile

    place = Path(place)
    if place.exists():
        aside = Path(tempfile.mkdtemp(dir=place.parent, prefix=f".{place.name}.old."))
        os.rename(place, aside / place.name)
        shutil.rmtree(aside, ignore_errors=True)
