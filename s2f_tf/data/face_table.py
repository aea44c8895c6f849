"""A real face of a given identity, for each voice of a training batch (`train.pairs_faces`).

The recipe samples voices and faces independently. A term that pairs each generated face with a real face
of the same identity needs, for every voice of a batch, one of its speaker's photos: the split's faces are
held in memory grouped by label (a 64-px face is 12 kB: VGGFace1's 106,584 training faces take 1.3 GB,
the demo's 1,820 take 22 MB), and each batch picks one photo per voice at random, from a seed keyed by the
batch's number, so a run is reproducible.

Example:
>>> images, labels, _ = load_faces("data/prepared", "train")
>>> table = FaceTable(images, labels, classes=len(load_info("data/prepared").names("train")))
>>> faces, found = table.faces_of(np.array([0, 3, 3]), seed=(0, 17))
>>> faces.shape, found  # ((3, 64, 64, 3), array([1., 1., 1.], dtype=float32))
"""

from __future__ import annotations

import numpy as np

from s2f_tf.errors import S2FError

# The most face bytes a training run holds in memory for the pairing term.
FACE_TABLE_BYTES = 4 << 30


class FaceTable:
    """Faces grouped by identity label.

    Args:
        images: uint8 [N, S, S, 3].
        labels: int [N], the identity of each face.
        classes: the number of labels (labels without a face give none).
    """

    def __init__(self, images, labels, classes: int):
        labels = np.asarray(labels, np.int64)
        order = np.argsort(labels, kind="stable")
        self.images = np.asarray(images)[order]
        classes = max(int(labels.max()) + 1 if len(labels) else 0, int(classes))
        self.counts = np.bincount(labels, minlength=classes).astype(np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)

    @staticmethod
    def check_size(info, split: str, budget: int | None = None) -> None:
        """S2FError when the split's faces take more than `budget` (FACE_TABLE_BYTES) in memory."""
        budget = FACE_TABLE_BYTES if budget is None else budget
        count, size = int(info.split(split)["faces"]), info.image_size
        if count * size * size * 3 > budget:
            raise S2FError(
                f"{info.data_dir}: the {count} {split} faces take {count * size * size * 3 >> 20} MB,"
                f" over the {budget >> 20} MB that pairing voices with faces may hold in memory"
            )

    def faces_of(self, labels, seed) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 [B, S, S, 3] one random face of each label, float32 [B] 1 where the label has a face,
        0 where it has none (its face is black)); `seed` fixes the choice."""
        labels = np.asarray(labels, np.int64).reshape(-1)
        rng = np.random.default_rng(np.asarray(seed, np.int64).reshape(-1).tolist())
        known = (labels >= 0) & (labels < len(self.counts))
        counts = np.where(known, self.counts[np.clip(labels, 0, len(self.counts) - 1)], 0)
        found = counts > 0
        pick = self.starts[np.clip(labels, 0, len(self.counts) - 1)] + np.floor(
            rng.random(len(labels)) * np.maximum(counts, 1)
        ).astype(np.int64)
        if not len(self.images):
            return np.zeros((len(labels), *self.images.shape[1:]), np.uint8), found.astype(
                np.float32
            )
        faces = self.images[np.where(found, pick, 0)]
        faces[~found] = 0
        return faces, found.astype(np.float32)
