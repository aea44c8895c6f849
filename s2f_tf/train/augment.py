"""Differentiable augmentation of the faces the face embedder sees (DiffAugment, Zhao et al. 2020).

A discriminator trained on a few thousand faces memorises them within a few epochs and stops teaching the
generator. DiffAugment transforms every face it sees, real and generated, in the discriminator's and in
the generator's update alike, with operations that gradients pass through, so the generator is never
pushed to draw the augmentations themselves. The three policies of the paper, for faces in [-1, 1]:
- "color": brightness + (u - 0.5), saturation (x - channel mean) * 2u, contrast (x - mean) * (u + 0.5);
- "translation": a shift of up to 1/8 of the size each way, zero (mid-grey) filled;
- "cutout": a square of half the size set to zero at a random position (it may reach past the border).

The random draws are inputs (`params`, PARAMS numbers in [0, 1) per face) rather than drawn here: the input
pipeline supplies them with the rest of the batch, so that a batch trains the same way on any number of
replicas (see `s2f_tf.train.data`).

Example:
>>> faces = tf.zeros([2, 64, 64, 3])
>>> augment(faces, tf.random.uniform([2, PARAMS]), ("color", "translation", "cutout")).shape
TensorShape([2, 64, 64, 3])
"""

from __future__ import annotations

import tensorflow as tf

# Per face: brightness, saturation, contrast, shift down, shift right, cutout row, cutout column.
PARAMS = 7
# The faces augmented per step, each with its own draws: the real and the generated faces of the
# discriminator's update, and the generated faces of the generator's update.
STREAMS = ("real", "fake", "generator")
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def _color(x, p):
    p = tf.cast(p, x.dtype)
    x = x + (p[:, 0] - 0.5)[:, None, None, None]
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * (2.0 * p[:, 1])[:, None, None, None] + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (p[:, 2] + 0.5)[:, None, None, None] + mean


def _translation(x, p):
    size = x.shape[1]
    reach = int(size * TRANSLATION_RATIO + 0.5)
    # Shifts in [-reach, reach] rows and columns; index i of the output reads i - shift of the input.
    shifts = tf.minimum(tf.cast(tf.floor(p[:, 3:5] * (2 * reach + 1)), tf.int32), 2 * reach) - reach
    padded = tf.pad(x, [[0, 0], [reach, reach], [reach, reach], [0, 0]])
    rows = tf.range(size)[None, :] + reach - shifts[:, 0:1]
    cols = tf.range(size)[None, :] + reach - shifts[:, 1:2]
    x = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def _cutout(x, p):
    size = x.shape[1]
    side = int(size * CUTOUT_RATIO + 0.5)
    # The square's centre anywhere in [0, size + (1 - side % 2)), as the paper's reference code draws it.
    centre = tf.floor(p[:, 5:7] * (size + 1 - side % 2)) - side // 2
    grid = tf.cast(tf.range(size), p.dtype)
    inside_rows = (grid[None, :] >= centre[:, 0:1]) & (grid[None, :] < centre[:, 0:1] + side)
    inside_cols = (grid[None, :] >= centre[:, 1:2]) & (grid[None, :] < centre[:, 1:2] + side)
    inside = inside_rows[:, :, None] & inside_cols[:, None, :]
    return x * tf.cast(~inside, x.dtype)[..., None]


OPERATIONS = {"color": _color, "translation": _translation, "cutout": _cutout}


def augment(images, params, policies):
    """`images` [B, S, S, C] transformed by each policy in turn with `params` [B, PARAMS] in [0, 1).

    The draws stay float32 whatever the images' type: in bfloat16 a draw just below 1 rounds up to 1,
    and a shift or cutout position would then fall outside its range."""
    params = tf.cast(params, tf.float32)
    for policy in policies:
        images = OPERATIONS[policy](images, params)
    return images
