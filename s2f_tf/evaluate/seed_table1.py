"""Table 1 of the seed report, reproduced: true faces beside each model's reconstruction from the same
recording of unseen identities (one row per identity; columns: true face, general model, the model of the
speaker's gender). Written by `seed_tables.write`."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

GENDER_OF = {"female": "f", "male": "m"}

# The layout, in pixels: faces are scaled by SCALE; a label column, a header, gaps between faces.
SCALE, LABEL_WIDTH, HEADER, GAP = 2, 150, 30, 4
_FONT = ImageFont.load_default()


def table1_size(rows: int, columns: int, face: int) -> tuple[int, int]:
    """(width, height) of Table 1 with `rows` identities and `columns` faces per row of `face` pixels."""
    tile = face * SCALE
    return LABEL_WIDTH + columns * (tile + GAP), HEADER + rows * (tile + GAP)


def table1_figure(rows, columns) -> Image.Image:
    """rows: [(label, [uint8 face or None per column])]; columns: the column titles."""
    face = next(np.asarray(f).shape[0] for _, faces in rows for f in faces if f is not None)
    tile = face * SCALE
    canvas = Image.new("RGB", table1_size(len(rows), len(columns), face), "white")
    draw = ImageDraw.Draw(canvas)
    for c, title in enumerate(columns):
        draw.text((LABEL_WIDTH + c * (tile + GAP), 8), title, fill="black", font=_FONT)
    for r, (label, faces) in enumerate(rows):
        y = HEADER + r * (tile + GAP)
        draw.text((4, y + tile // 2 - 6), str(label)[:24], fill="black", font=_FONT)
        for c, image in enumerate(faces):
            x = LABEL_WIDTH + c * (tile + GAP)
            if image is None:
                draw.rectangle([x, y, x + tile - 1, y + tile - 1], outline=(200, 200, 200))
                continue
            picture = Image.fromarray(np.asarray(image, np.uint8)).resize(
                (tile, tile), Image.NEAREST
            )
            canvas.paste(picture, (x, y))
    return canvas


def table1_rows(data_dir, gender_model, general_workdir, gender_workdir, count, seed=0):
    """Table 1's rows for one gender: the first `count` unseen identities of the per-gender dataset, each
    with a real photo, the general model's face and the gender model's face from the same utterance."""
    from s2f_tf import workdir as wd
    from s2f_tf.evaluate.generation import embed_voices, render
    from s2f_tf.evaluate.judges import load_split_faces, split_info
    from s2f_tf.evaluate.sources import UNSEEN, PipelineSource, choose, lookup

    source = PipelineSource(data_dir)
    info = source.info()
    faces = {}
    for name, workdir in (("general", general_workdir), (gender_model, gender_workdir)):
        config, encoder, generator = wd.load_inference_models(workdir)
        voices = embed_voices(source, UNSEEN, config, encoder, max_utterances=1, seed=seed)
        faces[name] = render(voices, generator)
    labels = [int(v) for v in np.unique(faces["general"].labels)[:count]]
    real = load_split_faces(source, info, UNSEEN, choose(source.counts(UNSEEN, "faces"), 1, seed))
    names = split_info(info, UNSEEN)["names"]
    rows = []
    for label in labels:
        position = int(np.flatnonzero(faces["general"].labels == label)[0])  # the same in both
        own = np.flatnonzero(real.labels == label)
        rows.append(
            (
                f"{lookup(names, label)} ({GENDER_OF[gender_model]})",
                [
                    real.images[own[0]] if len(own) else None,
                    faces["general"].images[position],
                    faces[gender_model].images[position],
                ],
            )
        )
    return rows
