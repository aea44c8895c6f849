"""Attribute agreement of generated faces, beside chance, the judge on real faces and the voice-only oracle.

Only a dataset prepared from the synthetic corpus has attribute labels (`s2f_tf.synth.attributes`:
dataset.json's `identities[name]["attributes"]` and `["voice"]`); on any other, `split_table` gives None and
evaluation says why there is no attribute table. For one split and one set of generated faces, each
attribute (class definitions: `s2f_tf.synth.attributes.ATTRIBUTES`) gets, over the same samples (one per
utterance):

- generated: the share of generated faces whose attribute, as the attribute judge sees it, is the
  speaker's true one (`judges.predict_attributes`: the gender classifier for gender, the heads of
  `attribute_judge.py` on the identity classifier's embedding for the others);
- chance: the majority-class rate, the share of the samples whose true value is the most common one among
  them (what always answering that one value scores);
- oracle: the share whose true value is the one most probable given the speaker's voice latents (gender,
  age group, community, vocal-tract length) under the corpus's own generative model
  (`synth.attributes.most_probable`): what a voice-only model that recovered those latents exactly
  would reach;
- real_faces: the judge's accuracy on the real faces of the split's identities (the held-out faces of the
  training identities for the seen split, the unseen identities' reference faces otherwise: whether the
  judge transfers to identities it never saw).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from s2f_tf.evaluate import metrics
from s2f_tf.evaluate.sources import lookup, split_info
from s2f_tf.synth.attributes import ATTRIBUTE, ATTRIBUTES, most_probable

NO_LABELS = (
    "Attribute agreement needs the face attribute labels of the synthetic corpus (its attributes.csv,"
    " carried into dataset.json by `s2f prepare`); this dataset has none, so there is no attribute table."
)
CHANCE_RULE = "majority-class rate among the judged samples"
ORACLE_RULE = (
    "the most probable value given the speaker's gender, age group, community and vocal-tract length"
    " under the synthetic corpus's generative model"
)


@dataclasses.dataclass(frozen=True)
class SplitAttributes:
    """Per label of one split: `truth` and `oracle`, attribute -> int [L] class index (-1: unknown)."""

    truth: dict[str, np.ndarray]
    oracle: dict[str, np.ndarray]

    def known(self, labels) -> np.ndarray:
        """Boolean [N]: the samples whose identity has attribute labels."""
        return self.truth[ATTRIBUTES[0].name][np.asarray(labels)] >= 0


def _identities(info) -> dict:
    found = info.identities if hasattr(info, "identities") else info.get("identities")
    return found or {}


def has_labels(info) -> bool:
    """Whether the dataset carries attribute labels for any identity."""
    return any("attributes" in person for person in _identities(info).values())


def split_table(info, split) -> SplitAttributes | None:
    """The true and oracle class of every label of `split`, or None when no identity of it is labelled."""
    names = split_info(info, split)["names"]
    people = _identities(info)
    count = int(split_info(info, split)["num_classes"])
    truth = {a.name: np.full(count, -1, np.int64) for a in ATTRIBUTES}
    oracle = {a.name: np.full(count, -1, np.int64) for a in ATTRIBUTES}
    labelled = 0
    for label in range(count):
        person = people.get(lookup(names, label), {})
        if "attributes" not in person or "voice" not in person:
            continue
        labelled += 1
        guess = most_probable(person["voice"])
        for attribute in ATTRIBUTES:
            truth[attribute.name][label] = attribute.index(person["attributes"][attribute.name])
            oracle[attribute.name][label] = attribute.index(guess[attribute.name])
    return SplitAttributes(truth, oracle) if labelled else None


def majority_rate(values) -> float:
    """The share of the most common value among `values` (0 for none)."""
    values = np.asarray(values)
    return float(np.bincount(values).max() / len(values)) if len(values) else 0.0


def split_scores(
    table: SplitAttributes, generated, generated_labels, real, real_labels, seed=0
) -> dict:
    """attribute -> {generated agreement ("value", "ci95", "n", "chance"), "oracle": {...},
    "real_faces": {...}} for one split (see the module docstring); samples without labels left out.

    Args:
        table: the split's labels (`split_table`).
        generated, real: attribute -> int [N] class index of each generated / real face, as the
            attribute judge sees it (`judges.predict_attributes`).
        generated_labels, real_labels: int [N] the identity (label of the split) of each face.
    """
    generated_labels = np.asarray(generated_labels)
    real_labels = np.asarray(real_labels)
    known = table.known(generated_labels)
    real_known = table.known(real_labels)
    scores = {}
    for attribute in ATTRIBUTES:
        name = attribute.name
        if name not in generated:
            continue
        truth = table.truth[name][generated_labels[known]]
        real_truth = table.truth[name][real_labels[real_known]]
        scores[name] = {
            **metrics.summarize(
                metrics.agreement(np.asarray(generated[name])[known], truth),
                majority_rate(truth),
                seed,
            ),
            "oracle": metrics.summarize(
                metrics.agreement(table.oracle[name][generated_labels[known]], truth), seed=seed
            ),
            "real_faces": metrics.summarize(
                metrics.agreement(np.asarray(real[name])[real_known], real_truth), seed=seed
            ),
        }
    return scores


def _value(entry):
    return entry.get("value") if isinstance(entry, dict) else None


def overview(model, judge_summary, info) -> dict:
    """metrics.json's "attributes": what the classes, chance and the oracle are, the judge, and per split
    evaluated one row per attribute (voice_link, chance, real_faces, oracle, generated, untrained: the
    values; the intervals are in the split's metrics). {"labels": False, "message"} without labels."""
    if not has_labels(info):
        return {"labels": False, "message": NO_LABELS}
    splits = {}
    for split, kinds in model["splits"].items():
        trained = kinds["trained"].get("attributes")
        if not trained:
            continue
        untrained = kinds.get("untrained", {}).get("attributes", {})
        splits[split] = {
            name: {
                "voice_link": ATTRIBUTE[name].voice_link,
                "chance": entry.get("chance"),
                "real_faces": _value(entry.get("real_faces")),
                "oracle": _value(entry.get("oracle")),
                "generated": entry.get("value"),
                "untrained": _value(untrained.get(name)),
                "n": entry.get("n"),
            }
            for name, entry in trained.items()
        }
    return {
        "labels": True,
        "classes": {a.name: list(a.classes) for a in ATTRIBUTES},
        "voice_link": {a.name: a.voice_link for a in ATTRIBUTES},
        "chance": CHANCE_RULE,
        "oracle": ORACLE_RULE,
        "judge": judge_summary.get("attributes"),
        "splits": splits,
    }
