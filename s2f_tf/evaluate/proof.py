"""The demo's "proof of learning": each target, the trained and untrained generator's values, met or not."""

from __future__ import annotations

from s2f_tf.evaluate.report_format import value_of
from s2f_tf.evaluate.sources import SEEN

# The demo's proof-of-learning targets: (label, split selector, metric key, target kind, target).
TARGETS = [
    ("identity top-1, seen identities", "seen", "identity_top1", "x_chance", 5.0),
    ("gender agreement, unseen identities", "unseen", "gender_agreement", "at_least", 0.85),
    ("1:2 matching, unseen identities", "unseen", "matching", "at_least", 0.65),
]


def proof_of_learning(model):
    """Each proof-of-learning target with the trained and untrained values and whether the trained one meets it.

    Seen = the "train_heldout" split; unseen = the first evaluated split that is not. A target whose split
    was not evaluated is reported with `passed: None`.
    """
    splits = model["splits"]
    unseen = next((s for s in splits if s != SEEN), None)
    checks = []
    for label, selector, key, kind, target in TARGETS:
        split = SEEN if selector == "seen" else unseen
        entry = splits.get(split, {}) if split else {}
        trained = entry.get("trained", {}).get(key)
        untrained = entry.get("untrained", {}).get(key)
        threshold = target
        if kind == "x_chance" and trained:
            threshold = target * trained["chance"]
        value = value_of(trained)
        checks.append(
            {
                "criterion": label,
                "split": split,
                "target": f">= {target:g} x chance" if kind == "x_chance" else f">= {target:.0%}",
                "threshold": threshold if value is not None else None,
                "trained": trained,
                "untrained": untrained,
                "passed": None if value is None else bool(value >= threshold),
            }
        )
    return checks
