"""The judges of an evaluation: classifiers trained here on the real faces of the training identities.

An identity classifier and a gender classifier (`classifiers.py`: FaceEmbedder architecture + Dense head),
trained on the training identities' real faces minus a held-out share per identity; the held-out faces
measure the judges and serve as the real faces of the seen-identity metrics. Also the small helpers that
read a split's faces and tables from the prepared dataset's info.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from s2f_tf.errors import S2FError
from s2f_tf.evaluate import metrics
from s2f_tf.evaluate.classifiers import TrainedClassifier, train_face_classifier

GENDERS = ("f", "m")


@dataclasses.dataclass
class Faces:
    """uint8 images [N, H, W, 3], int labels [N], genders [N] ("m"/"f")."""

    images: np.ndarray
    labels: np.ndarray
    genders: np.ndarray

    def take(self, index):
        return Faces(self.images[index], self.labels[index], self.genders[index])


@dataclasses.dataclass
class Judges:
    """The classifiers trained on real faces and the held-out real faces of the training identities."""

    identity: TrainedClassifier
    gender: TrainedClassifier
    heldout: Faces
    num_classes: int
    summary: dict


def split_info(info, split):
    """The info entry of one split of a prepared dataset; a one-line error when the dataset lacks it."""
    splits = info.splits if hasattr(info, "splits") else info["splits"]
    if split not in splits:
        raise S2FError(f"the dataset has no {split!r} split (it has {', '.join(sorted(splits))})")
    return splits[split]


def lookup(mapping, label):
    """mapping[label] for a list, or for a dict keyed by int or (as read from JSON) str."""
    if isinstance(mapping, dict):
        return mapping.get(label, mapping.get(str(label)))
    return mapping[label]


def text_of(value):
    """A str from a str, bytes, numpy scalar/array or tensor (as tf.data yields them)."""
    value = np.asarray(value).reshape(-1)[0] if np.ndim(value) else value
    if hasattr(value, "numpy"):
        value = value.numpy()
    return value.decode() if isinstance(value, bytes) else str(value)


def load_split_faces(source, info, split) -> Faces:
    """The real faces of a split, with a gender per image (from the split's label -> gender table)."""
    images, labels, genders = source.faces(split)
    labels = np.asarray(labels, dtype=np.int64)
    if genders is None or len(genders) != len(labels):
        table = split_info(info, split)["genders"]
        genders = [lookup(table, int(label)) for label in labels]
    return Faces(np.asarray(images, np.uint8), labels, np.array([text_of(g) for g in genders]))


def holdout_split(labels, fraction, seed):
    """(train_index, heldout_index): per identity, round(fraction * n) faces held out (at least one when
    the identity has two or more, none when it has one), drawn with `default_rng(seed)`."""
    rng = np.random.default_rng(seed)
    train, heldout = [], []
    for label in np.unique(labels):
        own = rng.permutation(np.flatnonzero(labels == label))
        k = 0 if len(own) < 2 else min(len(own) - 1, max(1, round(fraction * len(own))))
        heldout.extend(own[:k])
        train.extend(own[k:])
    return np.sort(np.array(train, np.int64)), np.sort(np.array(heldout, np.int64))


def train_judges(source, info, model_config, options) -> Judges:
    """Trains the identity and gender classifiers on the real faces of the training identities.

    `options` is an `evaluation.EvalOptions` (heldout_fraction, classifier_steps/batch/learning_rate, seed).
    """
    faces = load_split_faces(source, info, "train")
    num_classes = int(split_info(info, "train")["num_classes"])
    train_index, heldout_index = holdout_split(faces.labels, options.heldout_fraction, options.seed)
    train, heldout = faces.take(train_index), faces.take(heldout_index)
    common = dict(
        model_config=model_config,
        steps=options.classifier_steps,
        batch_size=options.classifier_batch,
        learning_rate=options.classifier_learning_rate,
        seed=options.seed,
    )
    identity = train_face_classifier(
        train.images, train.labels, num_classes, desc="identity classifier", **common
    )
    gender = train_face_classifier(
        train.images, _gender_index(train.genders), 2, desc="gender classifier", **common
    )
    summary = {
        "architecture": "FaceEmbedder(face_channels of the config) + Dense head, trained here on real faces",
        "face_channels": list(model_config.face_channels),
        "steps": options.classifier_steps,
        "batch_size": options.classifier_batch,
        "train_faces": int(len(train_index)),
        "heldout_faces": int(len(heldout_index)),
        "identity": {"num_classes": num_classes, "final_train_accuracy": identity.final_accuracy},
        "gender": {"final_train_accuracy": gender.final_accuracy},
    }
    if len(heldout_index):
        logits = identity.model.logits(heldout.images)
        summary["identity"]["heldout_real_top1"] = metrics.summarize(
            metrics.topk_correct(logits, heldout.labels, 1), chance=1 / num_classes
        )
        summary["identity"]["heldout_real_top5"] = metrics.summarize(
            metrics.topk_correct(logits, heldout.labels, min(5, num_classes)),
            chance=min(5, num_classes) / num_classes,
        )
        summary["gender"]["heldout_real_accuracy"] = metrics.summarize(
            metrics.agreement(predict_gender(gender, heldout.images), heldout.genders)
        )
    return Judges(identity, gender, heldout, num_classes, summary)


def _gender_index(genders):
    return np.array([GENDERS.index(g) if g in GENDERS else 1 for g in genders], np.int32)


def predict_gender(classifier: TrainedClassifier, images):
    """ "f"/"m" per image from the gender classifier."""
    return np.array(GENDERS)[np.argmax(classifier.model.logits(images), axis=1)]
