"""What an evaluation draws from its results: real | generated face grids, the comparison picture of
several models, training curves and per-gender bars (the drawing itself is `figures.py`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from s2f_tf.evaluate import figures
from s2f_tf.evaluate.generation import Generated
from s2f_tf.evaluate.judges import Faces, split_info
from s2f_tf.evaluate.sources import SEEN, lookup


def first_faces_of(generated: Generated, count) -> Generated:
    """The faces from the first utterance of each of the first `count` identities (label order): the
    utterance selection is seeded and shared, so every model evaluated in one run has the same ones."""
    first = [
        int(np.flatnonzero(generated.labels == label)[0]) for label in np.unique(generated.labels)
    ]
    first = np.array(first[:count], np.int64)
    return Generated(
        generated.images[first],
        generated.labels[first],
        generated.genders[first],
        [generated.utterances[i] for i in first],
        generated.native_size,
    )


def split_grid(out, model_name, kind, split, faces: Generated, reference: Faces, names, options):
    """grid_<split>_<kind>.png: real face | up to 3 generated faces for `options.grid_identities`
    identities of `split`; returns the file name."""
    rows = grid_rows(faces, reference, names, options.grid_identities)
    shown = max(len(generated) for _, _, generated in rows)
    title = (
        f"{model_name} ({kind} generator), {split}: real face | faces from"
        f" {shown} utterance{'s' if shown > 1 else ''}"
    )
    path = Path(out) / f"grid_{split}_{kind}.png"
    figures.face_grid(rows, title).save(path)
    return path.name


def grid_rows(generated: Generated, reference: Faces, names, count):
    """Rows of a face grid: per identity (up to `count`), its real face and up to 3 generated ones."""
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


def model_figures(model, workdir, out) -> list[str]:
    """The model's face grids, the training curves and the per-gender bars (file names under `out`)."""
    written = list(model["figures"]) + curve_figures(workdir, out)
    drawn = gender_figure(model, out)
    if drawn:
        written.append(drawn)
    return written


def compare_figure(split, pictured, reference: Faces, info, out):
    """compare_<split>.png: per identity, its real face, then each model's face from the same utterance
    (the main model first, then the compared work directories in order); returns the file name.

    `pictured`: [(model name, `first_faces_of` its trained generator's faces)]; a model without a face
    from the main model's utterance of an identity gets an empty frame there.
    """
    names = split_info(info, split)["names"]
    main = pictured[0][1]
    rows = []
    for label, gender, utterance in zip(main.labels, main.genders, main.utterances, strict=True):
        real = np.flatnonzero(reference.labels == label)
        generated = []
        for _, faces in pictured:
            same = np.flatnonzero(
                (faces.labels == label) & (np.asarray(faces.utterances) == utterance)
            )
            generated.append(faces.images[same[0]] if len(same) else None)
        rows.append(
            (
                f"{lookup(names, int(label))} ({gender})",
                reference.images[real[0]] if len(real) else None,
                generated,
            )
        )
    path = Path(out) / f"compare_{split}.png"
    title = f"{split}: the real face, then each model's face from the same utterance"
    headers = ["real", *(name for name, _ in pictured)]
    figures.face_grid(rows, title, headers=headers).save(path)
    return path.name


def curve_figures(workdir, out):
    """curves_<run>.png of each TensorBoard run under the work directory's logs (file names)."""
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


def gender_figure(model, out):
    """by_gender.png: the trained generator's per-gender figures (file name; None without any)."""
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
