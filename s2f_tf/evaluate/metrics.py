"""Pure metric functions on numpy arrays: embeddings, logits, labels and uint8 images in, numbers out.

Every function returns *per-sample* values where the metric is a mean over samples, so that
`summarize(...)` can attach the sample count and a bootstrap confidence interval. Which paper each metric
follows is stated in its docstring:
- Wen, Raj & Singh, "Face Reconstruction from Voice using Generative Adversarial Networks", NeurIPS 2019
  (identity top-k, gender agreement, 1:2 matching);
- Oh et al., "Speech2Face", CVPR 2019 and Bai et al., "Speech Fusion to Face" (SF2F), ACM MM 2022
  (retrieval recall@k in galleries of identity-mean face embeddings);
- the seed report of this project (cosine similarity and L1 between generated and real faces);
- Odena et al. 2016 and Durall et al. 2020 (high-frequency power of generated against real faces).
"""

from __future__ import annotations

import numpy as np

# Summaries and the spectral metric live in their own modules; they are named here too, as before.
from s2f_tf.evaluate.spectrum import power_ratio, top_octave_power, top_octave_ratio
from s2f_tf.evaluate.statistics import bootstrap_ci, summarize

__all__ = [
    "agreement",
    "bootstrap_ci",
    "identity_means",
    "l2_normalize",
    "matching_correct",
    "matching_outcomes",
    "matching_trials",
    "paired_l1",
    "power_ratio",
    "retrieval_hits",
    "same_identity_cosine",
    "summarize",
    "top_octave_power",
    "top_octave_ratio",
    "topk_correct",
]


def l2_normalize(x, axis=-1, eps=1e-12):
    """x / max(||x||, eps) along `axis`, float64."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), eps)


def topk_correct(logits, labels, k=1):
    """Per-sample 1.0 if the true label is among the k largest logits, else 0.0 (Wen et al. 2019, Sec. 4).

    Wen et al. classify faces generated from held-out recordings of *training* identities with a face
    classifier trained on real faces of those identities and report top-1 and top-5 accuracy.
    Ties are broken by the order `numpy.argsort` gives (stable, lower label first among equals).

    Args:
        logits: float [N, K] classifier scores.
        labels: int [N] true identity labels in [0, K).
        k: how many top-scoring classes count as a hit.

    Example:
    >>> topk_correct([[0.1, 0.9], [0.8, 0.2]], [1, 1], k=1)
    array([1., 0.])
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return np.any(top == labels[:, None], axis=1).astype(np.float64)


def agreement(predicted, expected):
    """Per-sample 1.0 where `predicted == expected` (Wen et al. 2019 gender agreement; classifier accuracy).

    Wen et al. report the fraction of generated faces whose gender, as judged by a gender classifier trained
    on real faces, agrees with the speaker's gender (96.45 %), beside the classifier's accuracy on real
    faces (98.97 %); both are this function on different inputs.
    """
    predicted = np.asarray(predicted)
    expected = np.asarray(expected)
    if predicted.shape != expected.shape:
        raise ValueError(f"shapes differ: {predicted.shape} vs {expected.shape}")
    return (predicted == expected).astype(np.float64)


def matching_trials(labels, genders, face_labels, face_genders, stratified=False, seed=0):
    """Draws the faces of 1:2 matching trials: for each query, one true face and one impostor face.

    The true face is a uniformly drawn real face of the query's identity; the impostor is a uniformly drawn
    real face of a uniformly drawn *other* identity - of the same gender as the query when `stratified`
    (Wen et al. 2019 "gender-stratified" matching, where gender cannot give the answer away). Draws use
    `numpy.random.default_rng(seed)`, so the trials are the same for every model evaluated with one seed.

    Args:
        labels: int [N] identity of each query (e.g. each generated face).
        genders: [N] gender of each query ("m"/"f").
        face_labels: int [M] identity of each real face.
        face_genders: [M] gender of each real face.
        stratified: draw impostors of the query's gender only.
        seed: random seed.

    Returns:
        (true_index, impostor_index): int [N] indices into the real faces; -1 where no trial is possible
        (the query's identity has no face, or no other identity qualifies as impostor).
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    genders = np.asarray(genders)
    face_labels = np.asarray(face_labels)
    face_genders = np.asarray(face_genders)
    by_identity = {int(i): np.flatnonzero(face_labels == i) for i in np.unique(face_labels)}
    identity_gender = {i: face_genders[idx[0]] for i, idx in by_identity.items()}
    identities = np.array(sorted(by_identity))
    true_index = np.full(len(labels), -1, dtype=np.int64)
    impostor_index = np.full(len(labels), -1, dtype=np.int64)
    for n, (label, gender) in enumerate(zip(labels, genders, strict=True)):
        own = by_identity.get(int(label))
        if own is None:
            continue
        others = identities[identities != label]
        if stratified:
            others = np.array(
                [i for i in others if identity_gender[int(i)] == gender], dtype=np.int64
            )
        if len(others) == 0:
            continue
        true_index[n] = rng.choice(own)
        impostor_index[n] = rng.choice(by_identity[int(rng.choice(others))])
    return true_index, impostor_index


def matching_correct(query, true_faces, impostor_faces):
    """Per-trial 1:2 matching outcome by cosine similarity (Wen et al. 2019, Sec. 4.3).

    A trial is right (1.0) when cos(query, true face) > cos(query, impostor face), wrong (0.0) when smaller,
    and 0.5 on an exact tie (a constant generator scores chance, not 0 or 100 %). All three are embeddings
    in one fixed face-embedding space; chance is 50 %.

    Args:
        query: float [N, D] embeddings of the generated faces.
        true_faces: float [N, D] embeddings of a real face of the same identity, row by row.
        impostor_faces: float [N, D] embeddings of a real face of another identity.
    """
    q = l2_normalize(query)
    s_true = np.sum(q * l2_normalize(true_faces), axis=1)
    s_imp = np.sum(q * l2_normalize(impostor_faces), axis=1)
    return np.where(s_true > s_imp, 1.0, np.where(s_true < s_imp, 0.0, 0.5))


def matching_outcomes(
    query, labels, genders, real, real_labels, real_genders, stratified=False, seed=0
):
    """Per-query 1:2 matching outcome: `matching_trials` draws the faces, `matching_correct` scores them.

    Args:
        query: float [N, D] embeddings of the generated faces; labels / genders: their identities and genders.
        real: float [M, D] embeddings of the real faces; real_labels / real_genders: theirs.
        stratified, seed: as in `matching_trials`.

    Returns:
        float [N]: 1.0 / 0.0 / 0.5 per query, NaN where no trial is possible (`summarize` skips those).
    """
    true_index, impostor_index = matching_trials(
        labels, genders, real_labels, real_genders, stratified=stratified, seed=seed
    )
    valid = (true_index >= 0) & (impostor_index >= 0)
    correct = np.full(len(query), np.nan)
    correct[valid] = matching_correct(
        np.asarray(query)[valid], real[true_index[valid]], real[impostor_index[valid]]
    )
    return correct


def identity_means(embeddings, labels):
    """(identities, means): the sorted identity labels and the mean of their L2-normalised embeddings."""
    embeddings = l2_normalize(embeddings)
    labels = np.asarray(labels)
    identities = np.unique(labels)
    means = np.stack([embeddings[labels == i].mean(axis=0) for i in identities])
    return identities, means


def retrieval_hits(
    query, query_labels, gallery, gallery_labels, ks=(1, 2, 5, 10), gallery_size=100, seed=0
):
    """Per-query recall@k hits against a gallery of identity-mean face embeddings (Speech2Face; SF2F).

    Speech2Face (Oh et al. 2019) ranks real faces by similarity to the face predicted from a voice and
    reports recall@k; SF2F (Bai et al. 2022) does this in galleries of 100 identities with recall@{1,2,5,10}.
    Here each query (a generated face's embedding) is scored by cosine similarity against `gallery`, one
    row per identity (normally `identity_means` of real faces). When there are more than `gallery_size`
    identities, each query gets its own gallery: its true identity plus `gallery_size - 1` others drawn
    uniformly with `numpy.random.default_rng(seed)`; otherwise the gallery is all identities. The rank of the
    true identity is the number of gallery rows scoring strictly higher plus half the number of other rows
    scoring exactly the same; recall@k is the fraction of queries with rank < k. Chance is k / G.

    Args:
        query: float [N, D] query embeddings.
        query_labels: int [N] true identity of each query (must appear in `gallery_labels`).
        gallery: float [G_all, D] one embedding per identity.
        gallery_labels: int [G_all] the identity of each gallery row.
        ks: the k of recall@k.
        gallery_size: G, the gallery size per query (all identities when there are fewer).
        seed: random seed for the gallery draws.

    Returns:
        ({k: float [N] hits}, G).
    """
    rng = np.random.default_rng(seed)
    scores = l2_normalize(query) @ l2_normalize(gallery).T  # [N, G_all]
    gallery_labels = np.asarray(gallery_labels)
    position = {int(label): i for i, label in enumerate(gallery_labels)}
    size = min(gallery_size, len(gallery_labels))
    ranks = np.empty(len(scores))
    for n, label in enumerate(np.asarray(query_labels)):
        true = position[int(label)]
        others = np.delete(np.arange(len(gallery_labels)), true)
        if size < len(gallery_labels):
            others = rng.choice(others, size - 1, replace=False)
        s_true = scores[n, true]
        s_other = scores[n, others]
        ranks[n] = np.sum(s_other > s_true) + 0.5 * np.sum(s_other == s_true)
    return {k: (ranks < k).astype(np.float64) for k in ks}, size


def same_identity_cosine(query, query_labels, reference, reference_labels):
    """Per-query mean cosine similarity to the real faces of the same and of other identities (the seed).

    The seed report gives the cosine similarity between generated and real faces of the same identity
    (0.245 general / 0.399 female / 0.209 male). Here, in one fixed face-embedding space, each generated
    face's cosine similarity is averaged over *all* real faces of its identity: cos(q, r) averaged over r
    equals q_hat . mean(r_hat). The same average over the real faces of all *other* identities is returned
    beside it as the reference level the first should exceed.

    Args:
        query: float [N, D] generated-face embeddings.
        query_labels: int [N] their identities.
        reference: float [M, D] real-face embeddings.
        reference_labels: int [M] their identities.

    Returns:
        (same [N], other [N]); NaN where the identity has no real face (or no other identity exists).
    """
    q = l2_normalize(query)
    r = l2_normalize(reference)
    reference_labels = np.asarray(reference_labels)
    total = r.sum(axis=0)
    same = np.full(len(q), np.nan)
    other = np.full(len(q), np.nan)
    for label in np.unique(query_labels):
        rows = np.asarray(query_labels) == label
        mask = reference_labels == label
        own = r[mask].sum(axis=0)
        if mask.any():
            same[rows] = q[rows] @ (own / mask.sum())
        if (~mask).any():
            other[rows] = q[rows] @ ((total - own) / (~mask).sum())
    return same, other


def paired_l1(images, labels, real_images, real_labels, seed=0):
    """Per-image mean absolute pixel difference (0-255 scale) to a real face of the same identity (the seed).

    The seed report gives L1 between generated and real faces in pixels on the 0-255 scale (61.9 general /
    29.4 female / 33.1 male). Each generated image is paired with one real face of its identity drawn
    uniformly with `numpy.random.default_rng(seed)`; the value is mean |generated - real| over all pixels
    and channels, both as uint8 images.

    Args:
        images: uint8 [N, H, W, C] generated faces.
        labels: int [N] their identities.
        real_images: uint8 [M, H, W, C] real faces.
        real_labels: int [M] their identities.

    Returns:
        float [N]; NaN where the identity has no real face.
    """
    rng = np.random.default_rng(seed)
    real_labels = np.asarray(real_labels)
    out = np.full(len(images), np.nan)
    for n, label in enumerate(np.asarray(labels)):
        own = np.flatnonzero(real_labels == label)
        if len(own):
            real = real_images[rng.choice(own)].astype(np.float64)
            out[n] = np.mean(np.abs(images[n].astype(np.float64) - real))
    return out
