"""How the report writes numbers: a metric entry as text, its chance level, a bound, a split's title."""

from __future__ import annotations

from s2f_tf.evaluate.sources import SEEN


def value_of(entry):
    """An entry's "value" (None when it is missing or not a dict)."""
    return entry.get("value") if isinstance(entry, dict) else None


def fmt(entry, kind="pct"):
    """A metric entry as text: '61.7 % [58.1, 64.9] (n=4620)' or '0.245 [0.23, 0.26] (n=...)'."""
    if entry is None:
        return "-"
    value = value_of(entry)
    if value is None:
        return "-"
    if kind == "pct":
        scale, unit, spec = 100.0, " %", ".1f"
    elif kind == "ratio":
        scale, unit, spec = 1.0, "", ".3g"
    else:
        scale, unit, spec = 1.0, "", ".4f" if abs(value) < 1 else ".1f"
    text = f"{value * scale:{spec}}{unit}"
    if entry.get("ci95"):
        lo, hi = entry["ci95"]
        text += f" [{lo * scale:{spec}}, {hi * scale:{spec}}]"
    if "n" in entry:
        text += f" (n={entry['n']})"
    elif "n_fake" in entry:
        text += f" (n={entry['n_real']} real / {entry['n_fake']} generated)"
    elif "std_over_subsets" in entry:
        text += f" ± {entry['std_over_subsets']:.4f}"
    return text


def fmt_chance(entry):
    if isinstance(entry, dict) and "chance" in entry:
        return f"{entry['chance'] * 100:.1f} %"
    return ""


def fmt_bound(value, what):
    return f"all {what}" if not value else f"at most {value} {what}"


def resized(model) -> str:
    """'128 px faces judged at 64 px' when a model's faces were resized to the dataset's size for
    judging; '' when they were not (or an earlier evaluation did not record the sizes)."""
    native, judged = model.get("image_size"), model.get("judged_at")
    if not native or not judged or native == judged:
        return ""
    return f"{native} px faces judged at {judged} px"


def split_title(split):
    return (
        "seen identities, held-out utterances (train_heldout)"
        if split == SEEN
        else f"unseen identities ({split})"
    )


def fmt_short(entry):
    """A fraction in % without its interval ('-' when missing)."""
    value = value_of(entry)
    return "-" if value is None else f"{value * 100:.1f} %"
