"""Every metric of one model's faces on one split, judged against the real faces of that split: identity
top-k and gender agreement (the judging classifiers), 1:2 matching, retrieval recall@k, cosine, pixel L1,
Frechet distances, KID and the top octave's spectral power (see metrics.py and fid.py for each); on a
dataset with face attribute labels, attribute agreement (attributes.py)."""

from __future__ import annotations

import numpy as np

from s2f_tf.evaluate import attributes, metrics
from s2f_tf.evaluate.fid import fid_from_features, kid_from_features
from s2f_tf.evaluate.generation import Generated
from s2f_tf.evaluate.judges import GENDERS, Faces, Judges, predict_attributes, predict_gender


def split_metrics(
    generated: Generated,
    reference: Faces,
    judges: Judges,
    seen,
    options,
    extractor,
    labelled: attributes.SplitAttributes | None = None,
):
    """Every metric of `generated` against the real faces `reference` (see metrics.py for each).

    `labelled`: the split's attribute labels (`attributes.split_table`); with them and an attribute
    judge, result["attributes"] holds each attribute's agreement (`attributes.split_scores`).
    """
    seed = options.seed
    result = {
        "samples": int(len(generated.labels)),
        "identities": int(len(np.unique(generated.labels))),
        "reference_faces": int(len(reference.labels)),
    }
    per_sample = {}  # per-sample arrays, for the per-gender breakdown
    genders = predict_gender(judges.gender, generated.images)
    _judged(result, per_sample, generated, judges, seen, seed, genders)
    query = judges.identity.model.embed(generated.images)
    real = reference.once(
        ("embedding", id(judges.identity)), lambda: judges.identity.model.embed(reference.images)
    )
    _matching(result, per_sample, generated, reference, query, real, seed)
    _retrieval(result, generated, reference, query, real, options.gallery_size, seed)
    _distances(result, generated, reference, query, real, extractor, seed)
    _spectrum(result, generated, reference, seed)
    if labelled is not None and judges.attributes is not None:
        on_real = reference.once(
            ("attributes", id(judges)),
            lambda: predict_attributes(judges, reference.images, real),
        )
        result["attributes"] = attributes.split_scores(
            labelled,
            predict_attributes(judges, generated.images, query, genders),
            generated.labels,
            on_real,
            reference.labels,
            seed,
        )
    result["by_gender"] = {
        g: {
            key: metrics.summarize(values[generated.genders == g], seed=seed)
            for key, values in per_sample.items()
        }
        for g in GENDERS
        if np.any(generated.genders == g)
    }
    return result


def _judged(result, per_sample, generated: Generated, judges: Judges, seen, seed, genders):
    """Identity top-1/top-5 (seen identities only) and gender agreement, by the judging classifiers
    (`genders`: the gender classifier's answer for each generated face)."""
    if seen:
        k = judges.num_classes
        logits = judges.identity.model.logits(generated.images)
        per_sample["identity_top1"] = metrics.topk_correct(logits, generated.labels, 1)
        result["identity_top1"] = metrics.summarize(per_sample["identity_top1"], 1 / k, seed)
        k5 = min(5, k)
        result["identity_top5"] = metrics.summarize(
            metrics.topk_correct(logits, generated.labels, k5), k5 / k, seed
        )
    per_sample["gender_agreement"] = metrics.agreement(genders, generated.genders)
    result["gender_agreement"] = metrics.summarize(per_sample["gender_agreement"], seed=seed)


def _matching(result, per_sample, generated: Generated, reference: Faces, query, real, seed):
    """1:2 matching, plain and with the impostor of the speaker's gender."""
    for key, stratified in (("matching", False), ("matching_gender_stratified", True)):
        correct = metrics.matching_outcomes(
            query,
            generated.labels,
            generated.genders,
            real,
            reference.labels,
            reference.genders,
            stratified=stratified,
            seed=seed,
        )
        per_sample[key] = correct
        result[key] = metrics.summarize(correct, 0.5, seed)


def _retrieval(result, generated: Generated, reference: Faces, query, real, gallery_size, seed):
    """recall@k of the speaker's identity among `gallery_size` identity means."""
    identities, means = metrics.identity_means(real, reference.labels)
    known = np.isin(generated.labels, identities)
    hits, size = metrics.retrieval_hits(
        query[known],
        generated.labels[known],
        means,
        identities,
        gallery_size=gallery_size,
        seed=seed,
    )
    result["gallery_size"] = int(size)
    for k, h in hits.items():
        result[f"recall@{k}"] = metrics.summarize(h, min(1.0, k / size), seed)


def _distances(result, generated: Generated, reference: Faces, query, real, extractor, seed):
    """Cosine to the same / other identities, pixel L1, Frechet distances (face embedding, FID), KID."""
    same, other = metrics.same_identity_cosine(query, generated.labels, real, reference.labels)
    result["cosine_same_identity"] = metrics.summarize(same, seed=seed)
    result["cosine_other_identities"] = metrics.summarize(other, seed=seed)
    result["l1_pixels"] = metrics.summarize(
        metrics.paired_l1(
            generated.images, generated.labels, reference.images, reference.labels, seed
        ),
        seed=seed,
    )
    result["fd_face_embedding"] = _fd(real, query)
    if (
        min(len(real), len(query)) >= 2
    ):  # KID in the judge's face-embedding space (no Inception needed)
        mean, std = kid_from_features(real, query, seed=seed)
        result["kid_face_embedding"] = {"value": mean, "std_over_subsets": std}
    if extractor is not None:
        real_features = reference.once(("fid", id(extractor)), lambda: extractor(reference.images))
        fake_features = extractor(generated.images)
        result["fid"] = _fd(real_features, fake_features)
        if min(len(real_features), len(fake_features)) >= 2:
            mean, std = kid_from_features(real_features, fake_features, seed=seed)
            result["kid"] = {"value": mean, "std_over_subsets": std}


def _spectrum(result, generated: Generated, reference: Faces, seed):
    """The generated faces' top-octave spectral power over the real faces' (`metrics.top_octave_power`):
    1 for as much fine detail as the real faces, above for high-frequency artefacts, below for blur."""
    if generated.images.shape[1:3] != reference.images.shape[1:3]:
        raise ValueError(
            f"generated faces of {generated.images.shape[1:3]} px, real ones of"
            f" {reference.images.shape[1:3]}: resize them first (generation.render(size=))"
        )
    real = reference.once("top_octave_power", lambda: metrics.top_octave_power(reference.images))
    result["spectral_top_octave_ratio"] = metrics.power_ratio(
        metrics.top_octave_power(generated.images), real, seed=seed
    )


def _fd(real, fake):
    if min(len(real), len(fake)) < 2:
        return None
    return {
        "value": fid_from_features(real, fake),
        "n_real": int(len(real)),
        "n_fake": int(len(fake)),
    }
