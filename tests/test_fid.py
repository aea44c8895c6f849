"""Fréchet distance and KID maths on Gaussians with known answers; the Inception extractor never downloads."""

import numpy as np
import pytest
import scipy.stats

from s2f_tf.evaluate import fid


def test_frechet_distance_exact_formula():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2.
    assert fid.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)
    # Covariances sharing eigenvectors: ||mu1 - mu2||^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    q = scipy.stats.ortho_group.rvs(4, random_state=0)
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 1.0, 0.5, 9.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    expected = 5.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = fid.frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-8)
    # Identical Gaussians: 0; singular covariances still give a finite number.
    s = np.diag([1.0, 0.0])
    assert fid.frechet_distance([0, 0], s, [0, 0], s) == pytest.approx(0.0, abs=1e-5)


def test_fid_of_samples_matches_closed_form():
    rng = np.random.default_rng(0)
    d, n, scale = 4, 20000, 2.0
    mu = np.array([1.0, -1.0, 0.5, 0.0])
    x = rng.normal(size=(n, d))
    y = mu + scale * rng.normal(size=(n, d))
    expected = mu @ mu + d * (1.0 - scale) ** 2  # ||mu||^2 + Tr(I + s^2 I - 2 s I)
    assert fid.fid_from_features(x, y) == pytest.approx(expected, abs=0.08)
    assert fid.fid_from_features(x, rng.normal(size=(n, d))) == pytest.approx(0.0, abs=0.01)


def test_gaussian_statistics_rejects_bad_shapes():
    with pytest.raises(ValueError):
        fid.gaussian_statistics(np.zeros((1, 3)))


def test_kid_linear_kernel_is_unbiased_for_mean_distance():
    # With k(x, y) = x.y the unbiased MMD^2 estimates ||mu_x - mu_y||^2 exactly in expectation.
    rng = np.random.default_rng(1)
    mu = np.array([0.3, 0.0, -0.4])  # ||mu||^2 = 0.25
    x = rng.normal(size=(20000, 3))
    y = mu + rng.normal(size=(20000, 3))
    mean, _ = fid.kid_from_features(
        x, y, subsets=100, subset_size=500, degree=1, gamma=1.0, coef0=0.0
    )
    assert mean == pytest.approx(0.25, abs=0.05)


def test_kid_cubic_kernel_same_distribution_is_near_zero():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    mean, std = fid.kid_from_features(x, y, subsets=40, subset_size=100, seed=3)
    # Unbiased: centred on 0 (the biased V-statistic would be > 0 by about 2 E k(x, x) / m).
    assert abs(mean) < 3 * std / np.sqrt(40) + 1e-3
    shifted, _ = fid.kid_from_features(x, y + 1.0, subsets=40, subset_size=100, seed=3)
    assert shifted > 10 * max(abs(mean), std / np.sqrt(40))


def test_inception_extractor_absent_gives_message(tmp_path):
    extractor, message = fid.inception_extractor(tmp_path)
    assert extractor is None
    assert "not in the Keras cache" in message and str(tmp_path) in message
    assert fid.inception_weights_path(tmp_path) is None
    (tmp_path / fid.INCEPTION_NOTOP).write_bytes(b"")
    assert fid.inception_weights_path(tmp_path) == tmp_path / fid.INCEPTION_NOTOP
