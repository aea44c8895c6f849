"""Fréchet distance and KID maths on Gaussians with known answers; the Inception weights are fetched through
Keras when missing and allowed (the fetch mocked: tests never download), with one clear message otherwise."""

import os

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

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


# --- fetching the InceptionV3 weights (mocked: no test touches the network) -------------------------


def _write_inception_notop(path, seed=0):
    """A file in the layout of Keras' InceptionV3 no-top weights (legacy HDF5), with seeded random values."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(seed)
    model = keras.applications.InceptionV3(
        include_top=False, weights=None, pooling="avg", input_shape=(299, 299, 3)
    )
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return model


def test_missing_weights_are_fetched_through_keras_when_allowed(tmp_path, monkeypatch):
    import keras

    monkeypatch.delenv(fid.NO_DOWNLOAD_ENV, raising=False)
    calls = []
    source = {}

    def fake_get_file(fname, origin, file_hash=None, cache_dir=None, cache_subdir="datasets", **kw):
        calls.append(
            dict(
                fname=fname,
                origin=origin,
                file_hash=file_hash,
                cache_dir=cache_dir,
                cache_subdir=cache_subdir,
            )
        )
        target = os.path.join(cache_dir, cache_subdir, fname)
        source["model"] = _write_inception_notop(target, seed=4)
        return target

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    cache = tmp_path / "keras_home" / "models"  # does not exist yet: created for get_file
    extractor, message = fid.inception_extractor(cache)
    assert calls == [
        dict(
            fname=fid.INCEPTION_NOTOP,
            origin=fid.INCEPTION_NOTOP_URL,
            file_hash=fid.INCEPTION_NOTOP_MD5,
            cache_dir=str(cache),
            cache_subdir="",
        )
    ]
    assert fid.INCEPTION_NOTOP_URL.endswith("/inception_v3/" + fid.INCEPTION_NOTOP)
    assert extractor is not None and "downloaded from" in message and str(cache) in message
    assert fid.inception_weights_path(cache) == cache / fid.INCEPTION_NOTOP
    # The extractor runs the fetched weights: same features as the model that wrote them.
    faces = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    features = extractor(faces)
    assert features.shape == (3, 2048) and np.isfinite(features).all()
    batch = keras.applications.inception_v3.preprocess_input(
        tf.image.resize(tf.cast(faces, tf.float32), (299, 299))
    )
    expected = np.asarray(source["model"](batch, training=False))
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)
    # A second call finds the file and fetches nothing.
    extractor, message = fid.inception_extractor(cache)
    assert len(calls) == 1 and extractor is not None and "downloaded" not in message


def test_offline_fetch_failure_keeps_the_clear_message(tmp_path, monkeypatch):
    import keras

    monkeypatch.delenv(fid.NO_DOWNLOAD_ENV, raising=False)

    def offline(fname, origin, **kw):  # what get_file raises without a network
        raise Exception(
            f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution"
        )

    monkeypatch.setattr(keras.utils, "get_file", offline)
    extractor, message = fid.inception_extractor(tmp_path)
    assert extractor is None
    assert message.startswith(
        "FID/KID not computed: InceptionV3 ImageNet weights are not in the Keras cache"
    )
    assert str(tmp_path / fid.INCEPTION_NOTOP) in message and fid.INCEPTION_NOTOP_URL in message
    assert "could not be downloaded (URL fetch failure" in message and "\n" not in message
    assert fid.inception_weights_path(tmp_path) is None


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_no_download_forbids_the_fetch(tmp_path, monkeypatch, how):
    import keras

    def must_not_run(*args, **kwargs):
        raise AssertionError("get_file called although downloads are off")

    monkeypatch.setattr(keras.utils, "get_file", must_not_run)
    if how == "argument":
        monkeypatch.delenv(fid.NO_DOWNLOAD_ENV, raising=False)
        extractor, message = fid.inception_extractor(tmp_path, download=False)
    else:
        monkeypatch.setenv(fid.NO_DOWNLOAD_ENV, "1")
        extractor, message = fid.inception_extractor(tmp_path, download=True)
    assert extractor is None and "downloads are off (--no-download" in message
    assert str(tmp_path / fid.INCEPTION_NOTOP) in message


def test_evaluate_no_download_flag_reaches_the_options(tmp_path, monkeypatch):
    import s2f_tf.evaluate as evaluate_package
    from s2f_tf import cli

    seen = []

    def fake_evaluate(source, workdir, out, options, compare=(), extractor="auto", **named):
        seen.append((options.download_inception, extractor))
        raise KeyboardInterrupt  # stop here: the arguments are all this test looks at

    monkeypatch.setattr(evaluate_package, "evaluate", fake_evaluate)
    base = ["evaluate", "--data", str(tmp_path), "--workdir", str(tmp_path)]
    assert cli.main(base) == 130
    assert cli.main([*base, "--no-download"]) == 130
    assert seen == [(True, "auto"), (False, "auto")]
