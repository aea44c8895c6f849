"""The seed report's tables, reproduced: Table 2 (FID, L1, cosine of a general, a female and a male model)
and Table 1 (true faces beside each model's reconstruction for the same voices).

`s2f demo --seed-tables` trains the three models and evaluates them (`s2f_tf.commands.seed_tables`); this
module turns those evaluations into `seed_tables.md` and `table1.png`. Each model is judged on its own
gender's voices and the general model on all voices and on each gender: the general model's per-gender
figures come from the evaluation on the per-gender dataset (`s2f evaluate --data DATA_F --compare
GENERAL`), so both models of a gender are judged on the same utterances by the same classifiers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from s2f_tf.evaluate.seed_table1 import GENDER_OF, table1_figure
from s2f_tf.files import atomic_write_bytes, atomic_write_text
from s2f_tf.images import png_bytes

VOICES = {"all": "all voices", "f": "female voices", "m": "male voices"}

# The seed report's Table 2 (computed on its training data; VoxCeleb1 voices, VGGFace1 faces):
# FID on Inception, L1 in pixels (0-255), cosine similarity.
SEED_TABLE2 = {
    "general": {"fid": 114.4, "l1": 61.9, "cosine": 0.245},
    "female": {"fid": 126.4, "l1": 29.4, "cosine": 0.399},
    "male": {"fid": 129.3, "l1": 33.1, "cosine": 0.209},
}

# Which evaluation holds each row: (model, voices) -> (evaluation, entry): "model" is the evaluated work
# directory, "compare" the general model judged on that evaluation's (per-gender) data.
ROWS = (
    ("general", "all", "general", "model"),
    ("general", "f", "female", "compare"),
    ("general", "m", "male", "compare"),
    ("female", "f", "female", "model"),
    ("male", "m", "male", "model"),
)

# (metric key, column, number format)
COLUMNS = (
    ("fid", "FID", ".1f"),
    ("kid", "KID", ".4f"),
    ("fd_face_embedding", "FD, face embedding", ".3g"),
    ("l1_pixels", "L1 (0-255)", ".1f"),
    ("cosine_same_identity", "cosine", ".3f"),
)
SPLIT_TITLES = {
    "unseen": "Unseen identities (val + test: voices of people training never saw)",
    "train_heldout": "Training identities, held-out utterances (closest to the seed's training data)",
}


# === Do the per-gender datasets hold the general dataset's voices? ===


def split_utterances(info, splits, gender=None) -> list[tuple[str, str]]:
    """Sorted (identity, utterance path) of every utterance stored in `splits` of a prepared dataset
    (`DatasetInfo`), of one gender if given: read from the shards themselves (no audio decoded)."""
    import tensorflow as tf

    from s2f_tf.data.records import VOICE_FEATURES

    wanted = {k: VOICE_FEATURES[k] for k in ("identity", "utterance", "gender")}
    found = []
    for split in splits:
        files = info.files(split, "voices")
        if not files:
            continue
        for record in tf.data.TFRecordDataset(files).map(
            lambda serialized: tf.io.parse_single_example(serialized, wanted)
        ):
            if gender is None or record["gender"].numpy().decode() == gender:
                found.append(
                    (record["identity"].numpy().decode(), record["utterance"].numpy().decode())
                )
    return sorted(found)


def coinciding_splits(general, gendered, gender) -> dict:
    """Whether the per-gender dataset `gendered` (a `DatasetInfo`) holds exactly the general dataset's
    voices of `gender` in each role, compared record by record (identity and utterance path): the same
    unseen utterances (val + test together: each dataset divides its own A-E names between val and test,
    so the division itself may differ), the same held-out utterances of training identities
    (train_heldout), the same training identities; and whether the val/test division is the same too."""

    def names(info, splits, keep_gender):
        return sorted(
            n
            for split in splits
            for n, g in zip(info.splits[split]["names"], info.splits[split]["genders"], strict=True)
            if keep_gender is None or g == keep_gender
        )

    def same(splits):
        return split_utterances(general, splits, gender) == split_utterances(gendered, splits)

    return {
        "unseen_utterances": same(["val", "test"]),
        "train_heldout_utterances": same(["train_heldout"]),
        "training_identities": names(general, ["train"], gender)
        == names(gendered, ["train"], None),
        "val_test_division": names(general, ["test"], gender) == names(gendered, ["test"], None),
    }


CHECKS = {  # coinciding_splits keys, as the report words them
    "unseen_utterances": "the same unseen utterances (val + test)",
    "train_heldout_utterances": "the same held-out utterances of training identities",
    "training_identities": "the same training identities",
    "val_test_division": "the same val/test division",
}


# === Table 2 ===


def load_evaluation(path) -> dict:
    """An evaluation's metrics.json."""
    return json.loads(Path(path).read_text())


def table2(evaluations: dict, split: str) -> list[dict]:
    """One row per (model, voices) of `ROWS`: the model, the voices, samples, identities and each metric
    of `COLUMNS` (None where not computed), from {evaluation name: metrics.json contents}."""
    rows = []
    for model, voices, evaluation, entry in ROWS:
        result = evaluations[evaluation]
        source = result["model"] if entry == "model" else _general_entry(result)
        trained = source["splits"].get(split, {}).get("trained")
        if trained is None:
            continue
        row = {"model": model, "voices": voices, "samples": trained["samples"]}
        row["identities"] = trained["identities"]
        for key, _, _ in COLUMNS:
            value = trained.get(key)
            row[key] = value.get("value") if isinstance(value, dict) else None
        rows.append(row)
    return rows


def _general_entry(result):
    """The compared general model of a per-gender evaluation (the one --compare entry)."""
    entries = result.get("compare", [])
    if len(entries) != 1:
        raise ValueError(
            f"expected the general model as the one --compare entry, got {len(entries)}"
        )
    return entries[0]


def _number(value, spec):
    return "–" if value is None else format(value, spec)


def table2_markdown(rows) -> list[str]:
    header = ["model", "judged on", "voices (identities)"] + [c[1] for c in COLUMNS]
    header += ["seed: FID", "seed: L1", "seed: cosine"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row in rows:
        seed = SEED_TABLE2[row["model"]] if _own_voices(row) else {}
        cells = [row["model"], VOICES[row["voices"]], f"{row['samples']} ({row['identities']})"]
        cells += [_number(row[key], spec) for key, _, spec in COLUMNS]
        cells += [_number(seed.get("fid"), ".1f"), _number(seed.get("l1"), ".1f")]
        cells += [_number(seed.get("cosine"), ".3f")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _own_voices(row) -> bool:
    """The rows the seed reports: each model on its own voices (general on all)."""
    return GENDER_OF.get(row["model"], "all") == row["voices"]


COMPARABLE = (
    "**What is comparable.** The seed's numbers come from VoxCeleb1 voices and VGGFace1 photos at its"
    " training scale, judged on its training data; ours from the synthetic corpus (a few hundred"
    " utterances, 64x64 drawn faces), on voices the models never trained on, at a fraction of the"
    " training. Only the *shape* of the comparison carries over: whether a per-gender model beats the"
    " general model on its own gender's voices, and by how much relative to the general model on those"
    " same voices (same utterances, same judging classifiers, same real faces). The absolute values do"
    " not: FID depends on the image set and its size (here it is computed on far fewer faces, and it is"
    " replaced by KID and the Fréchet distance in the judge's face-embedding space where the Inception"
    " weights are absent); L1 pairs each generated face with a real photo of the same identity, whose"
    " backgrounds and clothing differ per corpus; and our cosine similarity is measured in the embedding"
    " of a face classifier trained on this corpus's real faces, while the seed does not say which"
    " embedding its cosine uses."
)


def render(evaluations, coincide, figure, sources, counts: dict) -> str:
    """The Markdown report: Table 2 per split, the comparability note, the dataset check, Table 1."""
    lines = [
        "# The seed report's tables on the synthetic corpus",
        "",
        "General, female and male models, each trained on its own prepared dataset (`s2f prepare`,"
        " `--gender f|m`); each judged on its own gender's voices, and the general model on all voices"
        " and on each gender's (evaluated on the per-gender dataset, so that both models of a gender are"
        " judged on the same utterances by the same classifiers and real faces). Seed numbers stand"
        " beside the rows the seed reports (each model on its own voices).",
        "",
        "## Table 2",
    ]
    for split, title in SPLIT_TITLES.items():
        rows = table2(evaluations, split)
        if not rows:
            continue
        lines += ["", f"### {title}", "", *table2_markdown(rows)]
    fid_messages = sorted({e.get("fid_message", "") for e in evaluations.values()} - {""})
    lines += ["", "FID/KID: " + "; ".join(fid_messages) if fid_messages else "", ""]
    lines += [COMPARABLE, "", "## The datasets hold the same voices", ""]
    for model, checks in coincide.items():
        verdict = "; ".join(
            f"{CHECKS[key]}: {'yes' if value else 'no'}" for key, value in checks.items()
        )
        lines.append(f"- {model} dataset against the general one's {model} voices: {verdict}")
    lines += [
        "",
        "The val/test division may differ (each dataset divides its own A-E names); every table above"
        " uses val + test together, which is the same set of identities.",
        "",
        "## Table 1",
        "",
        "True faces beside each model's reconstruction from the same recording (one utterance each)"
        " of unseen identities: "
        + ", ".join(f"{n} {model}" for model, n in counts.items())
        + " (the first ones of each per-gender dataset, by label). Columns: true face, general model,"
        " the model of the speaker's gender.",
        "",
        f"![Table 1]({figure})",
        "",
        "Evaluations behind these numbers: " + ", ".join(f"`{s}`" for s in sources) + ".",
    ]
    return "\n".join(lines) + "\n"


def write(out, evaluations, coincide, table1: dict, sources) -> dict:
    """seed_tables.md and table1.png under `out`; their paths and Table 2's unseen rows.

    Args:
        evaluations: {"general", "female", "male": the metrics.json of each evaluation}.
        coincide: {"female", "male": `coinciding_splits`}.
        table1: {"female", "male": `table1_rows`}.
        sources: paths of the evaluations' reports (cited relative to `out`).
    """
    import os

    out = Path(out)
    figure = out / "table1.png"
    columns = ("true face", "general model", "female / male model")
    rows = [row for model_rows in table1.values() for row in model_rows]
    atomic_write_bytes(figure, png_bytes(np.asarray(table1_figure(rows, columns))))
    counts = {model: len(model_rows) for model, model_rows in table1.items()}
    cited = [os.path.relpath(source, out) for source in sources]
    report = atomic_write_text(
        out / "seed_tables.md", render(evaluations, coincide, figure.name, cited, counts)
    )
    return {
        "report": str(report),
        "table1": str(figure),
        "table2_unseen": table2(evaluations, "unseen"),
    }
