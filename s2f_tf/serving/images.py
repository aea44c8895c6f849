"""Face images as PNG: one per face, or a labelled grid."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from s2f_tf.files import atomic_write_bytes


def face_grid(
    faces, labels, scale: int = 2, columns: int = 8, label_height: int = 14
) -> Image.Image:
    """uint8 faces `[n, H, W, 3]` -> one RGB image: a grid of faces scaled `scale`x, each labelled below.

    Example:
    >>> face_grid(np.zeros([3, 64, 64, 3], np.uint8), ["a", "b", "c"]).size
    (384, 142)
    """
    faces = np.asarray(faces, np.uint8)
    count, height, width = faces.shape[:3]
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    cell_w, cell_h = width * scale, height * scale + label_height
    grid = Image.new("RGB", (columns * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for i, (face, label) in enumerate(zip(faces, labels, strict=True)):
        x, y = (i % columns) * cell_w, (i // columns) * cell_h
        grid.paste(Image.fromarray(face).resize((cell_w, height * scale), Image.NEAREST), (x, y))
        text = label if len(label) <= 2 * cell_w // 12 else label[: 2 * cell_w // 12 - 1] + "~"
        draw.text((x + 2, y + height * scale + 1), text, fill="black", font=font)
    return grid


def write_png(image: Image.Image | np.ndarray, path) -> Path:
    """Write an image (PIL or uint8 array) as PNG, atomically."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.asarray(image, np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())
