"""The metric functions of s2f_tf.evaluate.metrics on constructed inputs with known answers."""

import numpy as np
import pytest

from s2f_tf.evaluate import metrics


def _prototypes(k, d=32, seed=0):
    return metrics.l2_normalize(np.random.default_rng(seed).normal(size=(k, d)))


def _real_faces(prototypes, per_identity=5, noise=0.05, seed=1):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(prototypes)), per_identity)
    faces = prototypes[labels] + noise * rng.normal(size=(len(labels), prototypes.shape[1]))
    return faces, labels


def test_topk_known_values():
    logits = np.array([[0.1, 0.9, 0.0], [0.8, 0.2, 0.5], [0.3, 0.2, 0.1]])
    labels = np.array([1, 2, 2])
    np.testing.assert_array_equal(metrics.topk_correct(logits, labels, 1), [1, 0, 0])
    np.testing.assert_array_equal(metrics.topk_correct(logits, labels, 2), [1, 1, 0])
    np.testing.assert_array_equal(metrics.topk_correct(logits, labels, 3), [1, 1, 1])


def test_perfect_generator_scores_100_percent():
    protos = _prototypes(20)
    real, real_labels = _real_faces(protos)
    labels = np.repeat(np.arange(20), 3)
    genders = np.where(labels % 2, "m", "f")
    generated = protos[labels]  # the generator reproduces each identity exactly
    assert metrics.topk_correct(generated @ protos.T, labels, 1).mean() == 1.0
    for stratified in (False, True):
        t, i = metrics.matching_trials(
            labels, genders, real_labels, np.where(real_labels % 2, "m", "f"), stratified, seed=3
        )
        assert np.all(t >= 0) and np.all(i >= 0)
        assert metrics.matching_correct(generated, real[t], real[i]).mean() == 1.0
    ids, means = metrics.identity_means(real, real_labels)
    hits, size = metrics.retrieval_hits(generated, labels, means, ids)
    assert size == 20
    assert hits[1].mean() == 1.0 and hits[10].mean() == 1.0
    same, other = metrics.same_identity_cosine(generated, labels, real, real_labels)
    assert same.min() > 0.93  # noise of norm ~0.28 around each prototype: cos ~ 0.96
    assert abs(other.mean()) < 0.1


def test_random_generator_scores_near_chance():
    rng = np.random.default_rng(5)
    k, n = 10, 4000
    protos = _prototypes(k)
    real, real_labels = _real_faces(protos)
    labels = rng.integers(0, k, n)
    genders = np.where(labels % 2, "m", "f")
    generated = rng.normal(size=(n, 32))
    assert metrics.topk_correct(generated @ protos.T, labels, 1).mean() == pytest.approx(
        0.1, abs=0.02
    )
    assert metrics.topk_correct(generated @ protos.T, labels, 5).mean() == pytest.approx(
        0.5, abs=0.03
    )
    t, i = metrics.matching_trials(labels, genders, real_labels, real_labels % 2, seed=0)
    assert metrics.matching_correct(generated, real[t], real[i]).mean() == pytest.approx(
        0.5, abs=0.03
    )
    ids, means = metrics.identity_means(real, real_labels)
    hits, size = metrics.retrieval_hits(generated, labels, means, ids, ks=(1, 2, 5))
    for kk in (1, 2, 5):
        assert hits[kk].mean() == pytest.approx(kk / size, abs=0.03)


def test_swapped_identities_score_zero():
    protos = _prototypes(2)
    real, real_labels = _real_faces(protos)
    labels = np.array([0, 0, 1, 1, 1])
    generated = protos[1 - labels]  # every voice produces the other identity's face
    assert metrics.topk_correct(generated @ protos.T, labels, 1).sum() == 0
    t, i = metrics.matching_trials(labels, np.array(["f"] * 5), real_labels, np.array(["f"] * 10))
    assert metrics.matching_correct(generated, real[t], real[i]).sum() == 0
    ids, means = metrics.identity_means(real, real_labels)
    hits, _ = metrics.retrieval_hits(generated, labels, means, ids, ks=(1, 2))
    assert hits[1].sum() == 0 and hits[2].mean() == 1.0


def test_matching_trials_draw_valid_impostors_and_are_seeded():
    face_labels = np.repeat(np.arange(6), 4)
    face_genders = np.where(face_labels < 3, "f", "m")
    labels = np.repeat(np.arange(6), 10)
    genders = np.where(labels < 3, "f", "m")
    t, i = metrics.matching_trials(labels, genders, face_labels, face_genders, True, seed=7)
    assert np.all(face_labels[t] == labels)
    assert np.all(face_labels[i] != labels)
    assert np.all(face_genders[i] == genders)
    t2, i2 = metrics.matching_trials(labels, genders, face_labels, face_genders, True, seed=7)
    np.testing.assert_array_equal(i, i2)
    # Only one identity of a gender: no stratified impostor exists; unknown identity: no trial.
    t, i = metrics.matching_trials([0, 9], ["f", "f"], [0, 0, 1], ["f", "f", "m"], True)
    np.testing.assert_array_equal(t, [-1, -1])


def test_matching_ties_count_half():
    q = np.ones((1, 4))
    assert metrics.matching_correct(q, q, q)[0] == 0.5


def test_retrieval_galleries_smaller_than_identities():
    rng = np.random.default_rng(0)
    k, n = 50, 3000
    protos = _prototypes(k)
    labels = rng.integers(0, k, n)
    hits, size = metrics.retrieval_hits(
        rng.normal(size=(n, 32)), labels, protos, np.arange(k), gallery_size=10
    )
    assert size == 10
    assert hits[1].mean() == pytest.approx(0.1, abs=0.02)
    assert hits[10].mean() == 1.0
    hits, _ = metrics.retrieval_hits(protos[labels], labels, protos, np.arange(k), gallery_size=10)
    assert hits[1].mean() == 1.0


def test_paired_l1_on_pixels():
    black = np.zeros((2, 4, 4, 3), np.uint8)
    white = np.full((3, 4, 4, 3), 255, np.uint8)
    real = np.concatenate([black, white])
    real_labels = np.array([0, 0, 1, 1, 1])
    np.testing.assert_allclose(metrics.paired_l1(black, [0, 1], real, real_labels), [0.0, 255.0])
    gray = np.full((1, 4, 4, 3), 100, np.uint8)
    np.testing.assert_allclose(metrics.paired_l1(gray, [1], real, real_labels), [155.0])
    assert np.isnan(metrics.paired_l1(gray, [7], real, real_labels)[0])


def test_agreement_and_summary_with_bootstrap():
    correct = metrics.agreement(np.array(["m", "f", "m", "m"]), np.array(["m", "f", "f", "m"]))
    np.testing.assert_array_equal(correct, [1, 1, 0, 1])
    values = np.random.default_rng(0).binomial(1, 0.7, 1000).astype(float)
    summary = metrics.summarize(np.append(values, np.nan), chance=0.5)
    assert summary["n"] == 1000 and summary["chance"] == 0.5
    lo, hi = summary["ci95"]
    assert lo < summary["value"] < hi
    assert hi - lo == pytest.approx(2 * 1.96 * np.sqrt(0.21 / 1000), rel=0.25)
    assert metrics.summarize([1.0, 1.0, 1.0])["ci95"] == [1.0, 1.0]
    assert metrics.summarize([np.nan])["value"] is None
    with pytest.raises(ValueError):
        metrics.agreement([1, 2], [1])


def test_matching_outcomes_scores_drawn_trials_and_marks_impossible_ones_nan():
    real = np.eye(3)  # identity i's face points along axis i
    real_labels, real_genders = np.array([0, 1, 2]), np.array(["f", "m", "m"])
    query = np.eye(3)[[0, 1, 2]]  # perfect generator
    plain = metrics.matching_outcomes(
        query, real_labels, real_genders, real, real_labels, real_genders
    )
    np.testing.assert_array_equal(plain, [1.0, 1.0, 1.0])
    strat = metrics.matching_outcomes(
        query, real_labels, real_genders, real, real_labels, real_genders, stratified=True
    )
    assert np.isnan(strat[0]) and list(strat[1:]) == [1.0, 1.0]  # no other female: no trial
    swapped = metrics.matching_outcomes(
        query[[1, 2, 0]], real_labels, real_genders, real, real_labels, real_genders
    )
    assert np.nanmax(swapped) <= 0.5  # the true face is never the closer one


# === High-frequency power ===


def _faces(count=16, size=64, noise=0, seed=0):
    """uint8 faces: a few low-frequency waves per channel (smooth), plus uniform noise of +/- `noise`."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    faces = np.full((count, size, size, 3), 128.0)
    for n in range(count):
        for c in range(3):
            for _ in range(3):
                a, b = rng.integers(-3, 4, size=2)
                faces[n, :, :, c] += 20 * np.sin(
                    2 * np.pi * (a * x + b * y) / size + rng.uniform(0, 7)
                )
    faces += rng.integers(-noise, noise + 1, size=faces.shape)
    return np.clip(np.round(faces), 0, 255).astype(np.uint8)


def _checkerboard(size, amplitude=1):
    return amplitude * np.where(np.add.outer(np.arange(size), np.arange(size)) % 2, -1, 1)


def _box_blur(images):
    """3 x 3 box average, edges repeated, rounded back to uint8."""
    size = images.shape[1]
    padded = np.pad(images.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    total = sum(padded[:, i : i + size, j : j + size] for i in range(3) for j in range(3))
    return np.round(total / 9).astype(np.uint8)


def test_top_octave_power_golden_values():
    """A +/-1 checkerboard (u = v = 1/2, outside the radial top octave but inside the max-norm one) puts
    all its windowed power in the band: Parseval gives 64^2 / (band bins) = 4096 / (4096 - 31^2); a wave
    of period 16 px (1/16 cycle/pixel) and a constant image put none there."""
    checker = _checkerboard(64)[None].astype(np.float64)
    assert metrics.top_octave_power(checker)[0] == pytest.approx(4096 / 3135, rel=1e-9)
    wave = np.sin(2 * np.pi * np.arange(64) / 16)[None, None, :].repeat(64, axis=1)
    assert metrics.top_octave_power(wave)[0] < 1e-20
    grey = np.full((1, 64, 64, 3), 77, np.uint8)
    assert metrics.top_octave_power(grey)[0] == pytest.approx(0.0, abs=1e-20)
    white = np.random.default_rng(0).normal(0, 3, size=(8, 64, 64))  # variance 9 in every bin
    assert metrics.top_octave_power(white).mean() == pytest.approx(9, rel=0.05)


def test_top_octave_ratio_sees_checkerboards_and_blur():
    smooth = _faces()
    same = metrics.top_octave_ratio(smooth, smooth.copy())
    assert same["value"] == pytest.approx(1.0, abs=1e-6)
    assert (same["n_real"], same["n_fake"]) == (16, 16)
    lo, hi = same["ci95"]
    assert lo < 1.0 < hi  # both sets resampled: the interval has a width even for identical sets
    checkered = (smooth.astype(int) + _checkerboard(64)[None, :, :, None]).astype(np.uint8)
    artefacts = metrics.top_octave_ratio(checkered, smooth)  # one grey level, invisible
    assert artefacts["value"] > 2 and artefacts["ci95"][0] > 2
    detailed = _faces(noise=20)
    blurred = metrics.top_octave_ratio(_box_blur(detailed), detailed)
    assert blurred["value"] < 0.8 and blurred["ci95"][1] < 0.8
    assert metrics.power_ratio([1.0, 2.0], [0.0, 0.0])["value"] is None  # real faces without power
    with pytest.raises(ValueError, match="image sizes differ"):
        metrics.top_octave_ratio(smooth, _faces(size=32))
