"""Evaluation figures drawn with Pillow (matplotlib is not a dependency): face grids, curves, bar charts.

Training curves are read straight from TensorBoard event files with `tf.data.TFRecordDataset` and
`tf.compat.v1.Event` (the tensorboard package is not needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

COLORS = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
]
_FONT = ImageFont.load_default()


# === Face grids ===


def face_grid(rows, title=None, scale=2, label_width=150, gap=4, headers=None):
    """One row per identity: its name, a real face, then the faces generated from its utterances.

    Args:
        rows: list of (label, real uint8 [H, W, 3] or None, [generated uint8 [H, W, 3] or None, ...]);
            None draws an empty frame.
        title: a line of text above the grid.
        scale: nearest-neighbour upscaling of every face.
        label_width: pixels reserved for the row labels.
        gap: pixels between faces.
        headers: a name above each column, the real faces' first (default: "real", then "generated"
            above the first generated column); cut to the width of a face.

    Returns:
        a PIL RGB image.
    """
    if not rows:
        raise ValueError("no rows to draw")
    size = next(
        np.asarray(f).shape[0] for _, real, gen in rows for f in [real, *gen] if f is not None
    )
    tile = size * scale
    columns = 1 + max(len(gen) for _, _, gen in rows)
    header = 36 if title else 18
    width = label_width + columns * (tile + gap)
    height = header + len(rows) * (tile + gap)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 2), title, fill="black", font=_FONT)
    for c, name in enumerate(["real", "generated"] if headers is None else headers):
        x = label_width + c * (tile + gap)
        draw.text((x, header - 16), str(name)[: max(1, tile // 6)], fill="black", font=_FONT)
    for r, (label, real, generated) in enumerate(rows):
        y = header + r * (tile + gap)
        draw.text((4, y + tile // 2 - 6), str(label)[:24], fill="black", font=_FONT)
        for c, face in enumerate([real, *generated]):
            x = label_width + c * (tile + gap)
            if face is None:
                draw.rectangle([x, y, x + tile - 1, y + tile - 1], outline=(200, 200, 200))
                continue
            image = Image.fromarray(np.asarray(face, dtype=np.uint8)).resize(
                (tile, tile), Image.NEAREST
            )
            canvas.paste(image, (x, y))
    return canvas


# === TensorBoard scalars ===


def read_scalars(logdir):
    """{run: {tag: (steps int [n], values float [n])}} from every event file under `logdir`.

    `run` is the event file's directory relative to `logdir` ("." for `logdir` itself). Scalars written by
    `tf.summary.scalar` (tensor values of the "scalars" plugin) and TF1 `simple_value`s are read; other
    summaries (images, histograms) are skipped. Steps logged more than once (a resumed run) keep the last
    value. A truncated last record (a run still writing) ends that file quietly.
    """
    import tensorflow as tf

    logdir = Path(logdir)
    collected = {}
    for path in sorted(logdir.rglob("*tfevents*")):
        run = str(path.parent.relative_to(logdir))
        tags = collected.setdefault(run, {})
        try:
            for record in tf.data.TFRecordDataset(str(path)):
                event = tf.compat.v1.Event.FromString(record.numpy())
                for value in event.summary.value:
                    number = _scalar(value, tf)
                    if number is not None:
                        tags.setdefault(value.tag, {})[int(event.step)] = number
        except tf.errors.DataLossError:
            pass
    out = {}
    for run, tags in collected.items():
        if tags:
            out[run] = {
                tag: (np.array(sorted(points)), np.array([points[s] for s in sorted(points)]))
                for tag, points in sorted(tags.items())
            }
    return out


def _scalar(value, tf):
    if value.HasField("simple_value"):
        return float(value.simple_value)
    if value.HasField("tensor"):
        plugin = value.metadata.plugin_data.plugin_name
        array = tf.make_ndarray(value.tensor)
        if plugin in ("scalars", "") and array.size == 1 and np.issubdtype(array.dtype, np.number):
            return float(array.reshape(()))
    return None


def line_plot(series, title, size=(420, 260)):
    """A line chart of {name: (x [n], y [n])} with axes, min/max tick labels and a legend."""
    width, height = size
    left, right, top, bottom = 58, 10, 22, 34
    canvas = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((left, 4), title, fill="black", font=_FONT)
    xs = np.concatenate([np.asarray(x, float) for x, _ in series.values()])
    ys = np.concatenate([np.asarray(y, float) for _, y in series.values()])
    ys = ys[np.isfinite(ys)]
    if len(xs) == 0 or len(ys) == 0:
        draw.text((left, height // 2), "no data", fill="black", font=_FONT)
        return canvas
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = float(ys.min()), float(ys.max())
    x1 = x1 if x1 > x0 else x0 + 1
    pad = (y1 - y0) * 0.05 or max(abs(y0) * 0.05, 1e-3)
    y0, y1 = y0 - pad, y1 + pad
    pw, ph = width - left - right, height - top - bottom
    draw.rectangle([left, top, left + pw, top + ph], outline="black")
    for frac in (0.0, 0.5, 1.0):
        y = top + ph * (1 - frac)
        draw.line([left - 3, y, left, y], fill="black")
        draw.text((2, y - 6), f"{y0 + frac * (y1 - y0):.3g}", fill="black", font=_FONT)
    draw.text((left, top + ph + 4), f"{x0:.0f}", fill="black", font=_FONT)
    draw.text((left + pw - 40, top + ph + 4), f"{x1:.0f}", fill="black", font=_FONT)
    draw.text((left + pw // 2 - 12, top + ph + 16), "step", fill="black", font=_FONT)
    for i, (name, (x, y)) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        x, y = np.asarray(x, float), np.asarray(y, float)
        keep = np.isfinite(y)
        px = left + (x[keep] - x0) / (x1 - x0) * pw
        py = top + (1 - (y[keep] - y0) / (y1 - y0)) * ph
        points = list(zip(px.tolist(), py.tolist(), strict=True))
        if len(points) > 1:
            draw.line(points, fill=color, width=2)
        elif points:
            draw.ellipse(
                [points[0][0] - 2, points[0][1] - 2, points[0][0] + 2, points[0][1] + 2], fill=color
            )
        ly = top + 4 + 12 * i
        draw.line([left + 6, ly + 6, left + 20, ly + 6], fill=color, width=2)
        draw.text((left + 24, ly), name, fill=color, font=_FONT)
    return canvas


def tile_images(images, columns=2):
    """Paste equally sized PIL images into a grid, row by row."""
    w, h = images[0].size
    rows = (len(images) + columns - 1) // columns
    canvas = Image.new("RGB", (w * min(columns, len(images)), h * rows), "white")
    for i, image in enumerate(images):
        canvas.paste(image, ((i % columns) * w, (i // columns) * h))
    return canvas


def training_curves(scalars_of_run, title):
    """One panel per tag prefix ("loss/d_real" and "loss/g_adv" share the "loss" panel), tiled."""
    groups = {}
    for tag, points in scalars_of_run.items():
        prefix, _, rest = tag.partition("/")
        groups.setdefault(prefix if rest else "scalars", {})[rest or tag] = points
    panels = [line_plot(series, f"{title}: {prefix}") for prefix, series in sorted(groups.items())]
    return tile_images(panels, columns=2)


# === Bar charts ===


def bar_chart(groups, title, ylim=(0.0, 1.0), reference=None, size=(560, 300)):
    """Grouped bars with 95 % intervals and sample counts.

    Args:
        groups: {group: {series: {"value": v, "ci95": [lo, hi] | None, "n": n}}}.
        title: a line of text above the chart.
        ylim: the value axis range.
        reference: {group: level} drawn as a dashed line across the group (e.g. chance).
    """
    width, height = size
    left, right, top, bottom = 44, 10, 34, 46
    canvas = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((left, 4), title, fill="black", font=_FONT)
    pw, ph = width - left - right, height - top - bottom
    draw.rectangle([left, top, left + pw, top + ph], outline="black")

    def to_y(v):
        v = min(max(v, ylim[0]), ylim[1])
        return top + (1 - (v - ylim[0]) / (ylim[1] - ylim[0])) * ph

    for frac in (0.0, 0.5, 1.0):
        v = ylim[0] + frac * (ylim[1] - ylim[0])
        draw.text((2, to_y(v) - 6), f"{v:.2g}", fill="black", font=_FONT)
    names = sorted({s for series in groups.values() for s in series})
    slot = pw / max(1, len(groups))
    bar = slot * 0.8 / max(1, len(names))
    for g, (group, series) in enumerate(groups.items()):
        gx = left + g * slot + slot * 0.1
        for s, name in enumerate(names):
            item = series.get(name)
            if not item or item.get("value") is None:
                continue
            color = COLORS[s % len(COLORS)]
            x = gx + s * bar
            draw.rectangle([x + 1, to_y(item["value"]), x + bar - 1, to_y(ylim[0])], fill=color)
            if item.get("ci95"):
                cx = x + bar / 2
                lo, hi = to_y(item["ci95"][0]), to_y(item["ci95"][1])
                draw.line([cx, lo, cx, hi], fill="black", width=1)
                draw.line([cx - 3, lo, cx + 3, lo], fill="black")
                draw.line([cx - 3, hi, cx + 3, hi], fill="black")
            draw.text(
                (x + 2, max(top, to_y(item["value"]) - 12)),
                f"n={item['n']}",
                fill="black",
                font=_FONT,
            )
        if reference and group in reference:
            y = to_y(reference[group])
            for x in np.arange(gx, gx + slot * 0.8, 6):
                draw.line([x, y, x + 3, y], fill="black")
        draw.text((gx, top + ph + 4), str(group)[:28], fill="black", font=_FONT)
    for s, name in enumerate(names):
        x = left + 6 + s * 110
        draw.rectangle([x, 20, x + 10, 30], fill=COLORS[s % len(COLORS)])
        draw.text((x + 14, 19), name, fill="black", font=_FONT)
    return canvas
