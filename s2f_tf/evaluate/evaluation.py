"""Evaluating a work directory on a prepared dataset: generate faces, train the judges, compute everything.

Data flows one way: the data source gives real faces and whole test utterances (SPEC test rule); the work
directory's voice encoder and generator turn each utterance into a face; classifiers trained on real
faces of the training identities (`classifiers.py`; trained once per dataset and options, then reused from
`judge_store.py`) judge them; `metrics.py` / `fid.py` give the numbers; `figures.py` and `report.py` write
them. Every model (the trained generator, the untrained baseline and any compared work directory) is
judged by the same classifiers, trials and galleries (one seed).

Bounded by default, as papers evaluate: at most `max_utterances` (20) utterances per identity and split,
`max_faces` (50) real reference faces per unseen identity, `classifier_faces` (50) faces per training
identity for the judges (of which `heldout_fraction` are the seen identities' reference), retrieval
galleries of `gallery_size` (100) identities; 0 (or None) lifts a bound (`s2f evaluate --full`). What is
held in memory: the judges' faces (at most 50 per training identity), one split's reference faces, its
utterance embeddings and one generator's faces at a time.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from s2f_tf.errors import S2FError
from s2f_tf.evaluate import figures, metrics, report
from s2f_tf.evaluate.fid import fid_from_features, inception_extractor, kid_from_features
from s2f_tf.evaluate.generation import Generated, embed_voices, render, untrained_generator
from s2f_tf.evaluate.judge_store import load_or_train
from s2f_tf.evaluate.judges import (
    GENDERS,
    Faces,
    Judges,
    face_counts,
    load_split_faces,
    predict_gender,
    split_info,
)
from s2f_tf.evaluate.sources import UNSEEN, choose, lookup

SEEN = "train_heldout"
SPLITS = ("train_heldout", "val", "test", UNSEEN)


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """How to evaluate.

    splits: voice splits to evaluate; "train_heldout" (held-out utterances of training identities) gives
        identity top-k; "val"/"test" are unseen identities, "unseen" is both (val labels first, then test
        labels shifted past them): training never looks at either, so together they give the tightest
        interval on unseen identities.
    classifier_steps / classifier_batch / classifier_learning_rate: training of the face classifiers.
    classifier_faces: at most this many real faces per training identity for the classifiers, held-out
        share included (a seeded subset; None or 0: all).
    heldout_fraction: share of each training identity's real faces kept out of classifier training; they
        measure the classifiers and serve as the real faces of the seen-identity metrics.
    max_utterances: at most this many utterances per identity and split (a seeded subset; None or 0: all).
    max_faces: at most this many real reference faces per identity of an unseen split (None or 0: all).
    gallery_size: identities per retrieval gallery (SF2F: 100).
    grid_identities: rows of the face grids.
    seed: one seed for classifier training, the subsets, impostor and gallery draws and the untrained
        generator.
    judge_cache: reuse the classifiers trained earlier on this dataset with these options (and cache them).
    retrain_judges: train them anew and replace the cached ones.
    inception_cache: directory holding the InceptionV3 weights (default: the Keras cache).
    """

    splits: tuple[str, ...] = ("train_heldout", UNSEEN)
    classifier_steps: int = 300
    classifier_batch: int = 64
    classifier_learning_rate: float = 1e-3
    classifier_faces: int | None = 50
    heldout_fraction: float = 0.2
    max_utterances: int | None = 20
    max_faces: int | None = 50
    gallery_size: int = 100
    grid_identities: int = 8
    seed: int = 0
    judge_cache: bool = True
    retrain_judges: bool = False
    inception_cache: str | None = None


REFERENCE_SALT = 2  # sources.choose salt of the unseen splits' reference faces


# === Metrics of one model on one split ===


def split_metrics(generated: Generated, reference: Faces, judges: Judges, seen, options, extractor):
    """Every metric of `generated` against the real faces `reference` (see metrics.py for each)."""
    seed = options.seed
    result = {
        "samples": int(len(generated.labels)),
        "identities": int(len(np.unique(generated.labels))),
        "reference_faces": int(len(reference.labels)),
    }
    per_sample = {}  # per-sample arrays, for the per-gender breakdown
    if seen:
        k = judges.num_classes
        logits = judges.identity.model.logits(generated.images)
        per_sample["identity_top1"] = metrics.topk_correct(logits, generated.labels, 1)
        result["identity_top1"] = metrics.summarize(per_sample["identity_top1"], 1 / k, seed)
        k5 = min(5, k)
        result["identity_top5"] = metrics.summarize(
            metrics.topk_correct(logits, generated.labels, k5), k5 / k, seed
        )
    per_sample["gender_agreement"] = metrics.agreement(
        predict_gender(judges.gender, generated.images), generated.genders
    )
    result["gender_agreement"] = metrics.summarize(per_sample["gender_agreement"], seed=seed)

    query = judges.identity.model.embed(generated.images)
    real = reference.once(
        ("embedding", id(judges.identity)), lambda: judges.identity.model.embed(reference.images)
    )
    for key, stratified in (("matching", False), ("matching_gender_stratified", True)):
        correct = metrics.matching_outcomes(
            query,
            generated.labels,
            generated.genders,
            real,
            reference.labels,
            reference.genders,
            stratified=stratified,
            seed=seed,
        )
        per_sample[key] = correct
        result[key] = metrics.summarize(correct, 0.5, seed)

    identities, means = metrics.identity_means(real, reference.labels)
    known = np.isin(generated.labels, identities)
    hits, size = metrics.retrieval_hits(
        query[known],
        generated.labels[known],
        means,
        identities,
        gallery_size=options.gallery_size,
        seed=seed,
    )
    result["gallery_size"] = int(size)
    for k, h in hits.items():
        result[f"recall@{k}"] = metrics.summarize(h, min(1.0, k / size), seed)

    same, other = metrics.same_identity_cosine(query, generated.labels, real, reference.labels)
    result["cosine_same_identity"] = metrics.summarize(same, seed=seed)
    result["cosine_other_identities"] = metrics.summarize(other, seed=seed)
    result["l1_pixels"] = metrics.summarize(
        metrics.paired_l1(
            generated.images, generated.labels, reference.images, reference.labels, seed
        ),
        seed=seed,
    )
    result["fd_face_embedding"] = _fd(real, query)
    if extractor is not None:
        real_features = reference.once(("fid", id(extractor)), lambda: extractor(reference.images))
        fake_features = extractor(generated.images)
        result["fid"] = _fd(real_features, fake_features)
        if min(len(real_features), len(fake_features)) >= 2:
            mean, std = kid_from_features(real_features, fake_features, seed=seed)
            result["kid"] = {"value": mean, "std_over_subsets": std}
    result["by_gender"] = {
        g: {
            key: metrics.summarize(values[generated.genders == g], seed=seed)
            for key, values in per_sample.items()
        }
        for g in GENDERS
        if np.any(generated.genders == g)
    }
    return result


def _fd(real, fake):
    if min(len(real), len(fake)) < 2:
        return None
    return {
        "value": fid_from_features(real, fake),
        "n_real": int(len(real)),
        "n_fake": int(len(fake)),
    }


# === One work directory ===


def reference_faces(source, info, split, judges, options) -> Faces:
    """The real faces the generated ones of `split` are compared with: the judges' held-out faces for
    the seen identities, else at most `options.max_faces` per identity of the split (a seeded subset)."""
    if split == SEEN:
        return judges.heldout
    keep = None
    if options.max_faces:
        counts = face_counts(source, info, split)
        keep = choose(counts, options.max_faces, options.seed, salt=REFERENCE_SALT)
    return load_split_faces(source, info, split, keep)


def evaluate_model(
    workdir, source, info, judges, options, extractor, out=None, name=None, references=None
):
    """All splits' metrics of one work directory's generator and its untrained baseline.

    Writes the face grids to `out` when given. `references`: {split: Faces} already loaded (filled in
    here), so several work directories read the real faces once. Returns {"name", "workdir", ...,
    "splits": {split: {"trained": {...}, "untrained": {...}}}, "figures": [...]}.
    """
    from s2f_tf import workdir as wd

    config, encoder, generator = wd.load_inference_models(workdir)
    labels = wd.load_labels(workdir).get("train")
    names = split_info(info, "train")["names"]
    data_names = [lookup(names, i) for i in range(judges.num_classes)]
    model = {
        "name": name or Path(workdir).name,
        "workdir": str(workdir),
        "config": config.name,
        "checkpoint": wd.latest_checkpoint(workdir),
        "labels_match_data": None if labels is None else list(labels) == data_names,
        "splits": {},
        "figures": [],
    }
    generators = {"trained": generator, "untrained": untrained_generator(config, options.seed)}
    references = {} if references is None else references
    for split in options.splits:
        voices = embed_voices(source, split, config, encoder, options.max_utterances, options.seed)
        seen = split == SEEN
        if split not in references:
            references[split] = reference_faces(source, info, split, judges, options)
        reference = references[split]
        model["splits"][split] = {}
        for kind, generator_of_kind in generators.items():  # one generator's faces held at a time
            faces = render(voices, generator_of_kind)
            model["splits"][split][kind] = split_metrics(
                faces, reference, judges, seen, options, extractor
            )
            if out is not None:
                names_of_split = split_info(info, "train" if seen else split)["names"]
                path = Path(out) / f"grid_{split}_{kind}.png"
                grid_rows = _grid_rows(faces, reference, names_of_split, options.grid_identities)
                shown = max(len(generated) for _, _, generated in grid_rows)
                title = (
                    f"{model['name']} ({kind} generator), {split}: real face | faces from"
                    f" {shown} utterance{'s' if shown > 1 else ''}"
                )
                figures.face_grid(grid_rows, title).save(path)
                model["figures"].append(path.name)
            del faces
    return model


def _grid_rows(generated: Generated, reference: Faces, names, count):
    rows = []
    for label in np.unique(generated.labels)[:count]:
        own = np.flatnonzero(generated.labels == label)[:3]
        real = np.flatnonzero(reference.labels == label)
        rows.append(
            (
                f"{lookup(names, int(label))} ({generated.genders[own[0]]})",
                reference.images[real[0]] if len(real) else None,
                [generated.images[i] for i in own],
            )
        )
    return rows


# === The whole evaluation ===


def evaluate(
    data_source,
    workdir,
    out,
    options: EvalOptions | None = None,
    compare=(),
    extractor="auto",
    name=None,
):
    """Evaluates `workdir` (and `compare`: work directories or earlier evaluate outputs) into `out`.

    Writes metrics.json, report.md and PNG figures under `out`; returns the metrics dict.

    Args:
        data_source: a `PipelineSource` (or any object with info(), faces(split), voices(split, config)).
        workdir: the work directory to evaluate.
        out: output directory (created).
        options: `EvalOptions`.
        compare: paths of other work directories (evaluated on the same data with the same judges) or of
            directories / files holding an earlier evaluation's metrics.json (shown as they are).
        extractor: FID/KID features: "auto" (InceptionV3 if cached, else none), None, or a callable
            uint8 images -> features.
        name: the model's name in the report (default: the work directory's name).
    """
    from s2f_tf import workdir as wd

    started = time.perf_counter()
    options = options or EvalOptions()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for split in options.splits:
        if split not in SPLITS:
            raise S2FError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    config = wd.load_config(workdir)
    info = data_source.info()
    for split in options.splits:
        split_info(info, split)
    if extractor == "auto":
        extractor, fid_message = inception_extractor(options.inception_cache)
    else:
        fid_message = "custom feature extractor" if extractor is not None else "FID/KID disabled"
    judges_started = time.perf_counter()
    judges, cache = load_or_train(
        data_source, info, config.model, options, fallback=out, retrain=options.retrain_judges
    )
    judges_seconds = time.perf_counter() - judges_started
    result = {
        "options": dataclasses.asdict(options),
        "classifiers": {**judges.summary, **cache},
        "fid_features": getattr(extractor, "name", None) if extractor is not None else None,
        "fid_message": fid_message,
        "data": {
            split: {
                "identities": int(split_info(info, split)["num_classes"]),
                "counts": split_info(info, split).get("counts"),
            }
            for split in ("train", *options.splits)
        },
    }
    references = {}
    result["model"] = evaluate_model(
        workdir, data_source, info, judges, options, extractor, out, name, references
    )
    result["compare"] = [
        _compare_entry(path, data_source, info, judges, options, extractor, references)
        for path in compare
    ]
    del references
    result["figures"] = list(result["model"]["figures"])
    result["figures"] += _curve_figures(workdir, out)
    gender_figure = _gender_figure(result["model"], out)
    if gender_figure:
        result["figures"].append(gender_figure)
    result["proof_of_learning"] = report.proof_of_learning(result["model"])
    result["seconds"] = {  # wall time: the judges (trained or restored) and everything
        "judges": round(judges_seconds, 1),
        "total": round(time.perf_counter() - started, 1),
    }
    report.write(out, result)
    return result


def _compare_entry(path, source, info, judges, options, extractor, references=None):
    from s2f_tf import workdir as wd

    path = Path(path)
    candidate = path if path.suffix == ".json" else path / report.METRICS
    if candidate.is_file():
        data = json.loads(candidate.read_text())
        entry = dict(data["model"])
        entry["source"] = str(candidate)  # judged by that evaluation's own classifiers
        return entry
    if (path / wd.CONFIG).is_file():
        return evaluate_model(path, source, info, judges, options, extractor, references=references)
    raise S2FError(f"{path}: neither a work directory nor an evaluate output (no metrics.json)")


def _curve_figures(workdir, out):
    from s2f_tf import workdir as wd

    logs = Path(workdir) / wd.LOGS
    written = []
    if not logs.is_dir():
        return written
    for run, scalars in figures.read_scalars(logs).items():
        slug = "root" if run == "." else run.replace("/", "_")
        path = Path(out) / f"curves_{slug}.png"
        figures.training_curves(scalars, f"{Path(workdir).name}/{run}").save(path)
        written.append(path.name)
    return written


def _gender_figure(model, out):
    groups, reference = {}, {}
    for split, kinds in model["splits"].items():
        by_gender = kinds["trained"]["by_gender"]
        keys = ["gender_agreement", "matching"] + (["identity_top1"] if split == SEEN else [])
        for key in keys:
            label = f"{key.replace('_', ' ')} ({'seen' if split == SEEN else split})"
            groups[label] = {g: by_gender[g][key] for g in by_gender if key in by_gender[g]}
            if key == "matching":
                reference[label] = 0.5
            if key == "identity_top1":
                reference[label] = kinds["trained"]["identity_top1"].get("chance", 0)
    if not groups:
        return None
    path = Path(out) / "by_gender.png"
    size = (max(560, 150 * len(groups)), 300)
    figures.bar_chart(
        groups, f"{model['name']}: per speaker gender (trained)", reference=reference, size=size
    ).save(path)
    return path.name
