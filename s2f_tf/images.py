"""Face tensors <-> images: the one place that maps generator output to pixels and draws grids."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from s2f_tf.files import atomic_write_bytes


def _is_tensorflow(value) -> bool:
    return type(value).__module__.startswith("tensorflow")


def to_uint8(faces):
    """Linear generator output (or [-1, 1] images) -> uint8 `round((clip(x, -1, 1) + 1) * 127.5)`.

    A TensorFlow tensor gives a tensor (in a graph too: the exported models use this); anything else a
    numpy array.
    """
    if _is_tensorflow(faces):
        import tensorflow as tf

        scaled = (tf.clip_by_value(tf.cast(faces, tf.float32), -1.0, 1.0) + 1.0) * 127.5
        return tf.cast(tf.round(scaled), tf.uint8)
    faces = np.asarray(faces, np.float32)
    return np.round((np.clip(faces, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def to_unit_range(images):
    """uint8 images -> float32 (x - 127.5) / 127.5, the normalisation of docs/recipe.md "Losses and one training iteration".

    A TensorFlow tensor gives a tensor (tf.data uses this); anything else a numpy array.
    """
    if _is_tensorflow(images):
        import tensorflow as tf

        return (tf.cast(images, tf.float32) - 127.5) / 127.5
    return (np.asarray(images, dtype=np.float32) - 127.5) / 127.5


def grid(images, columns: int, pad: int = 2, labels=None) -> np.ndarray:
    """uint8 images [N, H, W, 3] -> one uint8 image with `columns` per row; optional text labels."""
    images = np.asarray(images, np.uint8)
    count, height, width, _ = images.shape
    rows = max(1, -(-count // columns))
    label_height = 12 if labels is not None else 0
    cell_h, cell_w = height + pad + label_height, width + pad
    canvas = np.full((rows * cell_h + pad, columns * cell_w + pad, 3), 255, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        y, x = pad + r * cell_h + label_height, pad + c * cell_w
        canvas[y : y + height, x : x + width] = image
    if labels is not None:
        picture = Image.fromarray(canvas)
        draw = ImageDraw.Draw(picture)
        for i, label in enumerate(labels):
            r, c = divmod(i, columns)
            draw.text((pad + c * cell_w, r * cell_h + 1), str(label)[: width // 6], fill=(0, 0, 0))
        canvas = np.asarray(picture)
    return canvas


def pairs_grid(real, generated, columns: int = 8) -> np.ndarray:
    """Rows alternate real faces and the faces generated for the same voices."""
    real, generated = np.asarray(real, np.uint8), np.asarray(generated, np.uint8)
    rows = []
    for start in range(0, len(real), columns):
        chunk_r, chunk_g = real[start : start + columns], generated[start : start + columns]
        missing = columns - len(chunk_r)
        if missing:
            blank = np.full((missing, *real.shape[1:]), 255, np.uint8)
            chunk_r, chunk_g = np.concatenate([chunk_r, blank]), np.concatenate([chunk_g, blank])
        rows += [chunk_r, chunk_g]
    return grid(np.concatenate(rows), columns)


def waveform_picture(
    samples, width: int = 512, height: int = 96, colour=(37, 99, 235), background=(255, 255, 255)
) -> np.ndarray:
    """A waveform as a uint8 picture [height, width, 3]: per column, a line from the minimum to the
    maximum of the samples it covers (float samples in [-1, 1])."""
    samples = np.clip(np.asarray(samples, np.float32).reshape(-1), -1.0, 1.0)
    picture = np.empty((height, width, 3), np.uint8)
    picture[:] = background
    picture[height // 2, :] = (200, 200, 200)  # the zero line
    if samples.size == 0:
        return picture
    # Column i covers samples[starts[i]:starts[i + 1]] (one sample where columns outnumber samples).
    starts = np.minimum(
        np.linspace(0, samples.size, width + 1)[:-1].astype(np.int64), samples.size - 1
    )
    lows, highs = np.minimum.reduceat(samples, starts), np.maximum.reduceat(samples, starts)

    def to_row(value):
        return np.round((1.0 - value) * 0.5 * (height - 1)).astype(np.int64)

    top, bottom = to_row(highs), to_row(lows)
    rows = np.arange(height)[:, None]
    picture[(rows >= top[None, :]) & (rows <= bottom[None, :])] = colour
    return picture


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(path, image: np.ndarray) -> Path:
    """Write a uint8 image atomically."""
    return atomic_write_bytes(path, png_bytes(image))
