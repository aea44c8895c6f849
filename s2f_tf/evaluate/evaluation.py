"""Evaluating a work directory on a prepared dataset: generate faces, train the judges, compute everything.

Data flows one way: the data source gives real faces and whole test utterances (the test rule of docs/recipe.md); the work
directory's voice encoder and generator turn each utterance into a face; classifiers trained on real
faces of the training identities (`classifiers.py`; trained once per dataset and options, then reused from
`judge_store.py`) judge them; `scores.py` (with `metrics.py` / `fid.py`) gives the numbers; `figures.py`
and `report.py` write them (`evaluation_figures.py` assembles the pictures). Every model (the trained generator, the untrained baseline and any compared work directory) is
judged by the same classifiers, trials and galleries (one seed), on faces of the dataset's size
(`generation.render(size=)`): a 128 px generator's faces are area-averaged to a 64 px dataset's.

On a dataset prepared from the synthetic corpus, whose identities carry face attribute labels, the judges
include the attribute judge and every split also gets attribute agreement beside chance, the judge's
accuracy on real faces and the voice-only oracle (`attributes.py`); result["attributes"] gathers them (on
other data it says why there are none).

Bounded by default, as papers evaluate: at most `max_utterances` (20) utterances per identity and split,
`max_faces` (50) real reference faces per unseen identity, `classifier_faces` (50) faces per training
identity for the judges (of which `heldout_fraction` are the seen identities' reference), retrieval
galleries of `gallery_size` (100) identities; 0 (or None) lifts a bound (`s2f evaluate --full`). What is
held in memory: the judges' faces (at most 50 per training identity), one split's reference faces, its
utterance embeddings and one generator's faces at a time (and, for the comparison picture, at most
`grid_identities` faces per compared model).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from s2f_tf.errors import S2FError
from s2f_tf.evaluate import attributes, evaluation_figures, report
from s2f_tf.evaluate.eval_options import SPLITS, EvalOptions  # noqa: F401  (SPLITS: its old home)
from s2f_tf.evaluate.evaluation_inputs import (  # noqa: F401  (REFERENCE_SALT: its old home)
    REFERENCE_SALT,
    config_and_data,
    dataset_size,
    feature_extractor,
    reference_faces,
)
from s2f_tf.evaluate.generation import embed_voices, render, untrained_generator
from s2f_tf.evaluate.judge_store import load_or_train
from s2f_tf.evaluate.judges import split_info
from s2f_tf.evaluate.scores import split_metrics
from s2f_tf.evaluate.sources import SEEN, lookup

# === One work directory ===


def evaluate_model(
    workdir,
    source,
    info,
    judges,
    options,
    extractor,
    out=None,
    name=None,
    references=None,
    first_faces=None,
):
    """All splits' metrics of one work directory's generator and its untrained baseline.

    Writes the face grids to `out` when given. `references`: {split: Faces} already loaded (filled in
    here), so several work directories read the real faces once. `first_faces`: {split: None}, filled
    with the few trained-generator faces of those splits the comparison picture shows (`first_faces_of`).
    Every face is judged at the size of the dataset's real faces (`render(..., size=)`), whatever size
    the generator draws. Returns {"name", "workdir", ..., "image_size": the generator's side,
    "judged_at": the side its faces were judged at, "splits": {split: {"trained": {...}, "untrained":
    {...}}}, "figures": [...]}.
    """
    from s2f_tf import workdir as wd

    config, encoder, generator = wd.load_inference_models(workdir)
    model = _model_entry(workdir, config, info, judges, name)
    generators = {"trained": generator, "untrained": untrained_generator(config, options.seed)}
    references = {} if references is None else references
    for split in options.splits:
        voices = embed_voices(source, split, config, encoder, options.max_utterances, options.seed)
        if split not in references:
            references[split] = reference_faces(source, info, split, judges, options)
        model["splits"][split] = {}
        for kind, generator_of_kind in generators.items():  # one generator's faces held at a time
            _judge_generator(
                model, kind, generator_of_kind, split, voices, references[split], info, judges,
                options, extractor, out, first_faces,
            )  # fmt: skip
    return model


def _model_entry(workdir, config, info, judges, name) -> dict:
    """A model's entry before any split is judged: its names, checkpoint and whether its labels.json
    matches the dataset's training identities."""
    from s2f_tf import workdir as wd

    labels = wd.load_labels(workdir).get("train")
    names = split_info(info, "train")["names"]
    data_names = [lookup(names, i) for i in range(judges.num_classes)]
    return {
        "name": name or Path(workdir).name,
        "workdir": str(workdir),
        "config": config.name,
        "checkpoint": wd.latest_checkpoint(workdir),
        "labels_match_data": None if labels is None else list(labels) == data_names,
        "image_size": None,  # the generator's faces' side, filled in by the first render
        "judged_at": None,  # the side they are judged at: the dataset's
        "splits": {},
        "figures": [],
    }


def _judge_generator(
    model, kind, generator, split, voices, reference, info, judges, options, extractor, out,
    first_faces,
) -> None:  # fmt: skip
    """One generator's (`kind`: "trained" or "untrained") faces of `split` drawn, judged into
    model["splits"][split][kind] and, with `out`, drawn into a grid."""
    seen = split == SEEN
    labelled = attributes.split_table(info, "train" if seen else split)
    size = dataset_size(info, reference)
    faces = render(voices, generator, size=size)
    if kind == "trained":
        model["image_size"], model["judged_at"] = faces.native_size, size
        if first_faces is not None and split in first_faces:
            first_faces[split] = evaluation_figures.first_faces_of(faces, options.grid_identities)
    model["splits"][split][kind] = split_metrics(
        faces, reference, judges, seen, options, extractor, labelled
    )
    if out is not None:
        names = split_info(info, "train" if seen else split)["names"]
        model["figures"].append(
            evaluation_figures.split_grid(
                out, model["name"], kind, split, faces, reference, names, options
            )
        )


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

    Writes metrics.json, report.md and PNG figures under `out`; returns the metrics dict. When `compare`
    holds work directories, compare_<split>.png shows each model's face beside the real one, identity by
    identity, for the first unseen split evaluated (`picture_split`); result["compare_figure"] names it.

    Args:
        data_source: a `PipelineSource` (or any object with info(), faces(split), voices(split, config)).
        workdir: the work directory to evaluate.
        out: output directory (created).
        options: `EvalOptions`.
        compare: paths of other work directories (evaluated on the same data with the same judges) or of
            directories / files holding an earlier evaluation's metrics.json (shown as they are).
        extractor: FID/KID features: "auto" (InceptionV3 if cached or fetched, else none), None, or a callable
            uint8 images -> features.
        name: the model's name in the report (default: the work directory's name).
    """
    started = time.perf_counter()
    options = options or EvalOptions()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config, info = config_and_data(workdir, data_source, options)
    extractor, fid_message = feature_extractor(extractor, options)
    judges_started = time.perf_counter()
    judges, cache = load_or_train(
        data_source, info, config.model, options, fallback=out, retrain=options.retrain_judges
    )
    judges_seconds = time.perf_counter() - judges_started
    result = _header(options, judges, cache, extractor, fid_message, info)
    references = {}
    models = _judge_models(
        workdir, compare, data_source, info, judges, options, extractor, out, name, references
    )
    result["model"], result["compare"], pictured = models
    shown = picture_split(options)
    result["compare_figure"] = (
        evaluation_figures.compare_figure(shown, pictured, references[shown], info, out)
        if len(pictured) > 1
        else None
    )
    del references, pictured
    result["figures"] = evaluation_figures.model_figures(result["model"], workdir, out)
    if result["compare_figure"]:
        result["figures"].append(result["compare_figure"])
    result["proof_of_learning"] = report.proof_of_learning(result["model"])
    result["attributes"] = attributes.overview(result["model"], judges.summary, info)
    result["seconds"] = {  # wall time: the judges (trained or restored) and everything
        "judges": round(judges_seconds, 1),
        "total": round(time.perf_counter() - started, 1),
    }
    report.write(out, result)
    return result


def _header(options, judges, cache, extractor, fid_message, info) -> dict:
    """The result's first fields: the options, the judges, the FID features and the data's sizes."""
    return {
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


def _judge_models(
    workdir, compare, data_source, info, judges, options, extractor, out, name, references
):
    """The model of `workdir`, then each of `compare`, judged alike. Returns (its entry, the compared
    entries, [(name, first faces)] of the models judged here, for the comparison picture); `references`
    gets the real faces of the picture's split."""
    shown = picture_split(options)  # the comparison picture's split: a few faces kept per model
    kept = {shown: None}
    model = evaluate_model(
        workdir, data_source, info, judges, options, extractor, out, name, references, kept
    )
    pictured = [(model["name"], kept[shown])]  # (name, first faces) of models judged here
    compared = []
    for path in compare:
        kept = {shown: None}
        compared.append(
            _compare_entry(path, data_source, info, judges, options, extractor, references, kept)
        )
        if kept[shown] is not None:  # a work directory judged here, not an earlier evaluation
            pictured.append((compared[-1]["name"], kept[shown]))
    return model, compared, pictured


def _compare_entry(
    path, source, info, judges, options, extractor, references=None, first_faces=None
):
    """A --compare entry: a work directory evaluated here (`evaluate_model`), or an earlier evaluation."""
    from s2f_tf import workdir as wd

    path = Path(path)
    candidate = path if path.suffix == ".json" else path / report.METRICS
    if candidate.is_file():
        data = json.loads(candidate.read_text())
        entry = dict(data["model"])
        entry["source"] = str(candidate)  # judged by that evaluation's own classifiers
        return entry
    if (path / wd.CONFIG).is_file():
        return evaluate_model(
            path,
            source,
            info,
            judges,
            options,
            extractor,
            references=references,
            first_faces=first_faces,
        )
    raise S2FError(f"{path}: neither a work directory nor an evaluate output (no metrics.json)")


def picture_split(options):
    """The split of the comparison picture: the first unseen one evaluated ("unseen", "test" or "val")."""
    return next((split for split in options.splits if split != SEEN), None)
