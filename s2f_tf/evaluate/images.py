"""Conversions between the generator's float faces, uint8 images and the networks' [-1, 1] input."""

from __future__ import annotations

import numpy as np


def to_uint8(faces):
    """Generator output (linear, nominally [-1, 1]) -> uint8 [0, 255]: clip, then round((x + 1) * 127.5)."""
    faces = np.clip(np.asarray(faces, dtype=np.float32), -1.0, 1.0)
    return np.round((faces + 1.0) * 127.5).astype(np.uint8)


def to_unit_range(images):
    """uint8 images -> float32 (x - 127.5) / 127.5, the normalisation of SPEC "Training"."""
    return (np.asarray(images, dtype=np.float32) - 127.5) / 127.5
