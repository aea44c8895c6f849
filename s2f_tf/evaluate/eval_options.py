"""How to evaluate: `EvalOptions` and the voice splits an evaluation may name."""

from __future__ import annotations

import dataclasses

from s2f_tf.evaluate.sources import UNSEEN

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
    download_inception: fetch the InceptionV3 weights into it when they are missing (`fid.inception_extractor`;
        the environment variable S2F_NO_DOWNLOAD forbids it whatever this says).
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
    download_inception: bool = True
