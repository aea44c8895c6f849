"""The judges of an evaluation: classifiers trained here on the real faces of the training identities.

An identity classifier and a gender classifier (`classifiers.py`: FaceEmbedder architecture + Dense head),
trained on the training identities' real faces minus a held-out share per identity; the held-out faces
measure the judges and serve as the real faces of the seen-identity metrics. On a dataset with face
attribute labels (the synthetic corpus), also the attribute judge: softmax heads on the identity
classifier's frozen embedding (`attribute_judge.py`), fitted on the same faces. Also the small helpers that
read a split's faces and tables from the prepared dataset's info.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from s2f_tf.evaluate import attributes, metrics
from s2f_tf.evaluate.attribute_judge import AttributeHeads, fit_heads
from s2f_tf.evaluate.classifiers import TrainedClassifier, train_face_classifier
from s2f_tf.evaluate.sources import accepts, choose, lookup, selected, split_info, text_of
from s2f_tf.synth.attributes import ATTRIBUTES

GENDERS = ("f", "m")
JUDGE_SALT = 1  # sources.choose salt of the judges' faces (unseen references use 2, utterances 3)


@dataclasses.dataclass
class Faces:
    """uint8 images [N, H, W, 3], int labels [N], genders [N] ("m"/"f").

    `derived` keeps what is computed from the images once per evaluation (their judge embeddings, their
    FID features), so every model and generator compared with the same real faces reuses it.
    """

    images: np.ndarray
    labels: np.ndarray
    genders: np.ndarray
    derived: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def take(self, index):
        return Faces(self.images[index], self.labels[index], self.genders[index])

    def once(self, name, compute):
        """compute() the first time `name` is asked for, the stored result afterwards."""
        if name not in self.derived:
            self.derived[name] = compute()
        return self.derived[name]


@dataclasses.dataclass
class Judges:
    """The classifiers trained on real faces and the held-out real faces of the training identities."""

    identity: TrainedClassifier
    gender: TrainedClassifier
    heldout: Faces
    num_classes: int
    summary: dict
    attributes: AttributeHeads | None = None  # only on a dataset with attribute labels


def load_split_faces(source, info, split, keep=None) -> Faces:
    """The real faces of a split, with a gender per image (from the split's label -> gender table).

    `keep`: per label, the occurrence indices (file order) to keep (`sources.choose`); None keeps all.
    A source whose `faces` takes `keep` reads only those; any other is read whole and then selected.
    """
    if keep is not None and accepts(source.faces, "keep"):
        images, labels, genders = source.faces(split, keep=keep)
        keep = None
    else:
        images, labels, genders = source.faces(split)
    labels = np.asarray(labels, dtype=np.int64)
    if genders is None or len(genders) != len(labels):
        table = split_info(info, split)["genders"]
        genders = [lookup(table, int(label)) for label in labels]
    faces = Faces(np.asarray(images, np.uint8), labels, np.array([text_of(g) for g in genders]))
    return faces if keep is None else faces.take(np.flatnonzero(selected(labels, keep)))


def face_counts(source, info, split):
    """int [num_classes] faces per label of `split`: prepare's counts when the source has them, else
    counted from a full read (small sources)."""
    num_classes = int(split_info(info, split)["num_classes"])
    counts = source.counts(split, "faces") if hasattr(source, "counts") else None
    if counts is None:
        counts = np.bincount(load_split_faces(source, info, split).labels, minlength=num_classes)
    return np.asarray(counts, np.int64)


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


def judge_selection(counts, options):
    """(train_keep, heldout_keep): per label, the occurrence indices of the training identities' faces
    the classifiers train on and those held out. At most `options.classifier_faces` faces per identity
    are used (`sources.choose`; all when None/0), and `holdout_split` divides them. The result depends
    only on the per-label counts (not on the order of the faces in the shards), so the held-out faces
    can be read alone when the classifiers come from the cache.
    """
    counts = np.asarray(counts, np.int64)
    pool = choose(counts, options.classifier_faces, options.seed, salt=JUDGE_SALT)
    pool = pool if pool is not None else [np.arange(c) for c in counts]
    labels = np.repeat(np.arange(len(pool)), [len(p) for p in pool])
    position = np.concatenate([np.arange(len(p)) for p in pool]) if len(pool) else labels
    train_index, heldout_index = holdout_split(labels, options.heldout_fraction, options.seed)

    def keep(index):
        own = [[] for _ in pool]
        for i in index:
            own[labels[i]].append(pool[labels[i]][position[i]])
        return [np.sort(np.asarray(o, np.int64)) for o in own]

    return keep(train_index), keep(heldout_index)


def judge_faces(source, info, options, heldout_only=False):
    """(train Faces or None, heldout Faces) of the training identities, read once (`judge_selection`)."""
    counts = face_counts(source, info, "train")
    train_keep, heldout_keep = judge_selection(counts, options)
    if heldout_only:
        return None, load_split_faces(source, info, "train", heldout_keep)
    union = [np.union1d(a, b) for a, b in zip(train_keep, heldout_keep, strict=True)]
    everything = all(len(u) == c for u, c in zip(union, counts, strict=True))
    faces = load_split_faces(source, info, "train", None if everything else union)
    train = faces.take(np.flatnonzero(selected(faces.labels, train_keep)))
    return train, faces.take(np.flatnonzero(selected(faces.labels, heldout_keep)))


def train_judges(source, info, model_config, options) -> Judges:
    """Trains the identity and gender classifiers on the real faces of the training identities.

    `options` is an `evaluation.EvalOptions` (heldout_fraction, classifier_steps/batch/learning_rate,
    classifier_faces, seed). `judge_store.load_or_train` caches what this returns.
    """
    train, heldout = judge_faces(source, info, options)
    num_classes = int(split_info(info, "train")["num_classes"])
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
        "faces_per_identity": options.classifier_faces or "all",
        "train_faces": int(len(train.labels)),
        "heldout_faces": int(len(heldout.labels)),
        "identity": {"num_classes": num_classes, "final_train_accuracy": identity.final_accuracy},
        "gender": {"final_train_accuracy": gender.final_accuracy},
        "training_seconds": {"identity": identity.seconds, "gender": gender.seconds},
    }
    for key, figures in judge_quality(identity, gender, heldout, num_classes).items():
        summary[key].update(figures)
    judges = Judges(identity, gender, heldout, num_classes, summary)
    train_attribute_judge(judges, train, info)
    return judges


def train_attribute_judge(judges: Judges, train: Faces, info) -> None:
    """Sets `judges.attributes` (`attribute_judge.fit_heads` on the identity classifier's embedding of
    the faces `train` it trained on; gender is the gender classifier's), with the judge's accuracy on
    the held-out real faces in `judges.summary["attributes"]`; nothing when the training identities
    have no attribute labels."""

    table = attributes.split_table(info, "train")
    if table is None:
        return
    started = time.perf_counter()
    targets = {a.name: table.truth[a.name][train.labels] for a in ATTRIBUTES if a.name != "gender"}
    classes = {a.name: a.classes for a in ATTRIBUTES}
    judges.attributes = fit_heads(judges.identity.model.embed(train.images), targets, classes)
    summary = {
        "architecture": "gender: the gender classifier; the others: softmax regression on the"
        " identity classifier's embedding (standardised, L2-penalised, L-BFGS), fitted on its"
        " training faces",
        "training_seconds": round(time.perf_counter() - started, 2),
    }
    heldout = judges.heldout
    if len(heldout.labels):
        embedding = heldout.once(  # the key split_metrics uses: embedded once per evaluation
            ("embedding", id(judges.identity)),
            lambda: judges.identity.model.embed(heldout.images),
        )
        known = table.known(heldout.labels)
        predicted = predict_attributes(judges, heldout.images, embedding)
        for name, values in predicted.items():
            truth = table.truth[name][heldout.labels[known]]
            summary[name] = {
                "heldout_real_accuracy": metrics.summarize(
                    metrics.agreement(values[known], truth), attributes.majority_rate(truth)
                )
            }
    judges.summary["attributes"] = summary


def predict_attributes(judges: Judges, images, embeddings, genders=None) -> dict[str, np.ndarray]:
    """attribute -> int [N] class index of each face as the attribute judge sees it: the gender
    classifier's answer for gender (`genders` when already computed), the heads on the identity
    classifier's embedding `embeddings` [N, D] for the others."""
    found = judges.attributes.predict(embeddings)
    genders = predict_gender(judges.gender, images) if genders is None else genders
    found["gender"] = np.array([GENDERS.index(str(g)) for g in genders], np.int64)
    return {a.name: found[a.name] for a in ATTRIBUTES if a.name in found}


def judge_quality(identity, gender, heldout, num_classes) -> dict:
    """{"identity": {heldout_real_top1, heldout_real_top5}, "gender": {heldout_real_accuracy}} on the
    held-out real faces (empty when there are none)."""
    if not len(heldout.labels):
        return {}
    logits = identity.model.logits(heldout.images)
    k5 = min(5, num_classes)
    return {
        "identity": {
            "heldout_real_top1": metrics.summarize(
                metrics.topk_correct(logits, heldout.labels, 1), chance=1 / num_classes
            ),
            "heldout_real_top5": metrics.summarize(
                metrics.topk_correct(logits, heldout.labels, k5), chance=k5 / num_classes
            ),
        },
        "gender": {
            "heldout_real_accuracy": metrics.summarize(
                metrics.agreement(predict_gender(gender, heldout.images), heldout.genders)
            )
        },
    }


def _gender_index(genders):
    return np.array([GENDERS.index(g) if g in GENDERS else 1 for g in genders], np.int32)


def predict_gender(classifier: TrainedClassifier, images):
    """ "f"/"m" per image from the gender classifier."""
    return np.array(GENDERS)[np.argmax(classifier.model.logits(images), axis=1)]
