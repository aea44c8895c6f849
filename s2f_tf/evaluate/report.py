"""metrics.json and report.md of an evaluation (the numbers written by `report_format`, the demo's
"proof of learning" verdicts decided by `proof`)."""

from __future__ import annotations

from pathlib import Path

from s2f_tf.evaluate.proof import TARGETS, proof_of_learning  # noqa: F401  (their old home)
from s2f_tf.evaluate.report_format import (
    fmt,
    fmt_bound,
    fmt_chance,
    fmt_short,
    resized,
    split_title,
    value_of,
)
from s2f_tf.files import atomic_write_json, atomic_write_text

METRICS = "metrics.json"  # what an evaluation writes into its output directory
REPORT = "report.md"


# (metric key, label, kind): kind "pct" = fraction shown in %, "num" = plain number, "ratio" = a ratio
# shown to 3 significant digits.
ROWS = [
    ("identity_top1", "identity top-1", "pct"),
    ("identity_top5", "identity top-5", "pct"),
    ("gender_agreement", "gender agreement", "pct"),
    ("matching", "1:2 matching", "pct"),
    ("matching_gender_stratified", "1:2 matching, gender-stratified", "pct"),
    ("recall@1", "recall@1", "pct"),
    ("recall@2", "recall@2", "pct"),
    ("recall@5", "recall@5", "pct"),
    ("recall@10", "recall@10", "pct"),
    ("cosine_same_identity", "cosine, same identity", "num"),
    ("cosine_other_identities", "cosine, other identities", "num"),
    ("l1_pixels", "L1 (pixels, 0-255)", "num"),
    ("fid", "FID (Inception)", "num"),
    ("kid", "KID (Inception)", "num"),
    ("fd_face_embedding", "Fréchet distance, face-embedding space", "num"),
    ("kid_face_embedding", "KID, face-embedding space", "num"),
    ("spectral_top_octave_ratio", "top-octave spectral power, generated / real", "ratio"),
]


def render(result) -> str:
    """The Markdown report of an evaluation result (the dict `evaluation.evaluate` returns)."""
    lines = _overview(result) + _proof_of_learning(result)
    for split, kinds in result["model"]["splits"].items():
        lines += _split_section(split, kinds)
    lines += _attributes(result)
    lines += _comparison(result)
    lines += ["", "## Figures", ""]
    lines += [f"![{name}]({name})" for name in result["figures"]]
    return "\n".join(lines) + "\n"


def _overview(result) -> list[str]:
    """The title, the model, the data, the bounds and the judges."""
    model = result["model"]
    checkpoint = Path(model["checkpoint"]).name if model.get("checkpoint") else "no checkpoint"
    lines = [f"# {model['name']}: evaluation ({model['config']} preset, {checkpoint})", ""]
    lines += [
        f"- work directory: `{model['workdir']}` (config `{model['config']}`, checkpoint `{model['checkpoint']}`)",
        f"- labels.json matches the dataset's training identities: {model['labels_match_data']}",
    ]
    if resized(model):
        lines.append(
            f"- faces: the generator draws {model['image_size']} x {model['image_size']} px; they are"
            f" judged at the dataset's {model['judged_at']} x {model['judged_at']} px (area-averaged"
            " down, bilinear up), the size of the real faces and of the judges"
        )
    lines += [
        "- data: "
        + ", ".join(f"{s}: {d['identities']} identities" for s, d in result["data"].items()),
    ]
    o = result["options"]
    lines.append(
        f"- bounds: {fmt_bound(o.get('max_utterances'), 'utterances')} per identity and split,"
        f" {fmt_bound(o.get('max_faces'), 'real reference faces')} per unseen identity, judges on"
        f" {fmt_bound(o.get('classifier_faces'), 'faces')} per training identity, galleries of"
        f" {o.get('gallery_size')} identities (`s2f evaluate --full` lifts the first two)"
    )
    c = result["classifiers"]
    lines += [
        f"- judges: {c['architecture']}; {c['steps']} steps of {c['batch_size']} on {c['train_faces']} faces, "
        f"{c['heldout_faces']} held-out faces"
        + (f"; reused from `{c['cache']}`" if c.get("judges") == "cached" else ""),
        f"  - identity classifier on held-out real faces: top-1 {fmt(c['identity'].get('heldout_real_top1'))}"
        f" (chance {fmt_chance(c['identity'].get('heldout_real_top1'))}), top-5 "
        f"{fmt(c['identity'].get('heldout_real_top5'))}",
        f"  - gender classifier on held-out real faces: {fmt(c['gender'].get('heldout_real_accuracy'))}",
        f"- FID/KID: {result['fid_message']}",
        "- top-octave spectral power (HF power in the comparison): the generated faces' mean power at"
        " 0.5-1.0 of Nyquist (max-norm frequency, Hann-windowed luminance) over the real faces'; 1 = as"
        " much fine detail as the real faces, above 1 = high-frequency artefacts (checkerboards),"
        " below 1 = blur.",
        "- 95 % intervals: percentile bootstrap over samples (1000 resamples); n = samples behind each number."
        " Matching and retrieval use the identity classifier's embedder (cosine); impostors and galleries"
        f" are drawn with seed {result['options']['seed']}.",
    ]
    return lines


def _proof_of_learning(result) -> list[str]:
    """The demo's targets, trained against the untrained generator."""
    lines = [
        "",
        "## Proof of learning",
        "",
        "The targets the demo (`small` preset) must meet to show that the generator learned from the"
        " voice; the untrained generator (same voice encoder, freshly initialised generator) is the"
        " baseline.",
        "",
        "| criterion | split | target | trained | untrained generator | met |",
        "|---|---|---|---|---|---|",
    ]
    for check in result["proof_of_learning"]:
        met = {True: "yes", False: "**no**", None: "not evaluated"}[check["passed"]]
        lines.append(
            f"| {check['criterion']} | {check['split']} | {check['target']} | {fmt(check['trained'])} | "
            f"{fmt(check['untrained'])} | {met} |"
        )
    return lines


def _split_section(split, kinds) -> list[str]:
    """One split's metrics, trained against untrained, and per speaker gender."""
    trained, untrained = kinds["trained"], kinds["untrained"]
    lines = [
        "",
        f"## {split_title(split)}",
        "",
        f"{trained['samples']} utterances of {trained['identities']} identities; "
        f"{trained['reference_faces']} real faces; retrieval galleries of {trained['gallery_size']} identities.",
        "",
        "| metric | trained | untrained generator | chance |",
        "|---|---|---|---|",
    ]
    for key, label, kind in ROWS:
        if key in trained:
            lines.append(
                f"| {label} | {fmt(trained[key], kind)} | {fmt(untrained.get(key), kind)} | "
                f"{fmt_chance(trained[key])} |"
            )
    by_gender = trained["by_gender"]
    if by_gender:
        lines += ["", "Per speaker gender (trained generator):", ""]
        lines += [
            "| metric | " + " | ".join(by_gender) + " |",
            "|---" * (1 + len(by_gender)) + "|",
        ]
        for key in next(iter(by_gender.values())):
            lines.append(
                f"| {key.replace('_', ' ')} | "
                + " | ".join(fmt(by_gender[g].get(key)) for g in by_gender)
                + " |"
            )
    return lines


def _attributes(result) -> list[str]:
    """Attribute agreement per split (synthetic data), or the sentence saying why there is none."""
    found = result.get("attributes")
    if not found:  # an evaluation written before attributes were judged
        return []
    lines = ["", "## Face attributes", ""]
    if not found.get("labels"):
        return lines + [found["message"]]
    judge = found.get("judge") or {}
    lines += [
        "How often the face generated from an utterance shows the speaker's true attribute, as the"
        f" attribute judge sees it ({judge.get('architecture', 'no attribute judge')}), beside:"
        f" chance, the {found['chance']}; the judge's accuracy on real faces of the same identities"
        " (for unseen identities: faces of people it never saw); and the voice-only oracle, "
        f"{found['oracle']}: what a voice-only model can reach. Hair colour: every senior's is"
        ' grey (the corpus greys it 55-95 %); "voice-linked" is what the corpus\'s generator ties to the'
        " voice (beard: only through gender; glasses: not at all).",
    ]
    for split, kinds in result["model"]["splits"].items():
        trained = kinds["trained"].get("attributes")
        if not trained:
            continue
        untrained = kinds.get("untrained", {}).get("attributes", {})
        n = next(iter(trained.values()))["n"]
        lines += [
            "",
            f"### {split_title(split)}: {n} utterances",
            "",
            "| attribute | voice-linked | chance | real-face accuracy | oracle | generated |"
            " untrained generator |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, entry in trained.items():
            lines.append(
                f"| {name.replace('_', ' ')} | {found['voice_link'].get(name, '?')} |"
                f" {fmt_chance(entry)} | {fmt(entry.get('real_faces'))} | {fmt_short(entry.get('oracle'))} |"
                f" {fmt(entry)} | {fmt_short(untrained.get(name))} |"
            )
    return lines


def _comparison(result) -> list[str]:
    """Side by side with the --compare entries (nothing when there are none)."""
    model = result["model"]
    entries = [model, *result.get("compare", [])]
    if len(entries) < 2:
        return []
    lines = [
        "",
        "## Comparison (general vs. female vs. male, as the seed's Table 2)",
        "",
        'Rows marked "from" are earlier evaluations (their own data and judging classifiers);'
        " the others were judged here, on this dataset, by the same classifiers, trials and galleries.",
        "",
    ]
    columns = [
        ("fid", "FID", "num"),
        ("spectral_top_octave_ratio", "HF power", "num"),
        ("l1_pixels", "L1", "num"),
        ("cosine_same_identity", "cosine", "num"),
        ("identity_top1", "top-1", "pct"),
        ("gender_agreement", "gender", "pct"),
        ("matching", "1:2", "pct"),
        ("recall@1", "R@1", "pct"),
    ]
    for split in model["splits"]:
        lines += [
            f"### {split_title(split)}",
            "",
            "| model | " + " | ".join(c[1] for c in columns) + " |",
            "|---" * (1 + len(columns)) + "|",
        ]
        for entry in entries:
            m = entry["splits"].get(split, {}).get("trained")
            if m is None:
                continue
            cells = [
                "-"
                if value_of(m.get(k)) is None
                else (f"{value_of(m[k]) * 100:.1f} %" if kind == "pct" else f"{value_of(m[k]):.3g}")
                for k, _, kind in columns
            ]
            origin = f", from `{entry['source']}`" if entry.get("source") else ""
            origin += f", {resized(entry)}" if resized(entry) else ""
            lines.append(
                f"| {entry['name']} ({entry['config']}{origin}) | " + " | ".join(cells) + " |"
            )
        lines.append("")
    if result.get("compare_figure"):
        lines += [
            f"Side by side in `{result['compare_figure']}`: per identity, the real face, then the face"
            " each model judged here generated from the same utterance (this model first), at the"
            " dataset's size.",
            "",
        ]
    return lines


def summary(result):
    """The short JSON summary printed last by `s2f evaluate`."""
    out = {"out": result.get("out"), "fid_features": result["fid_features"], "splits": {}}
    for split, kinds in result["model"]["splits"].items():
        out["splits"][split] = {
            kind: {
                key: value_of(values.get(key))
                for key in ("identity_top1", "gender_agreement", "matching", "recall@1", "fid")
                if key in values
            }
            for kind, values in kinds.items()
        }
    found = result.get("attributes") or {}
    out["attributes"] = (  # generated faces' agreement and the oracle's, per split and attribute
        {
            split: {
                name: {k: row[k] for k in ("generated", "oracle")} for name, row in rows.items()
            }
            for split, rows in found["splits"].items()
        }
        if found.get("labels")
        else None
    )
    out["proof_of_learning"] = {c["criterion"]: c["passed"] for c in result["proof_of_learning"]}
    out["judges"] = result["classifiers"].get("judges")  # "trained" here or "cached" (reused)
    out["seconds"] = result.get("seconds")
    return out


def write(out, result):
    """Writes metrics.json and report.md under `out`; returns their paths."""
    out = Path(out)
    metrics_path = atomic_write_json(out / METRICS, result)
    report_path = atomic_write_text(out / REPORT, render(result))
    return metrics_path, report_path
