"""Fréchet distance (FID) and kernel inception distance (KID) with pluggable feature extractors.

FID (Heusel et al., NeurIPS 2017) fits a Gaussian to the features of each image set and reports
||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2}). KID (Binkowski et al., ICLR 2018) is the unbiased
estimate of the squared maximum mean discrepancy with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over random subsets; it has no bias from small samples, which FID does.

A feature extractor is any callable: uint8 images [N, 64, 64, 3] -> float features [N, D].
`inception_extractor()` returns the usual one (InceptionV3 ImageNet, 2048-d average pool). Its weights file
is looked for in the Keras cache; when it is missing, it is fetched the way Keras fetches it
(`keras.utils.get_file`, same URL and MD5 as `keras.applications.InceptionV3`) into that cache, unless
downloads are forbidden (`download=False`: `s2f evaluate --no-download`, or the environment variable
`S2F_NO_DOWNLOAD=1`, which the tests set). Offline, FID/KID are skipped with a message saying where to
place the file. The published numbers (the seed's FID 114.4, SF2F) use Inception features; features of
another network give distances on another scale.
"""

from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg

INCEPTION_NOTOP = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
# Where keras.applications.InceptionV3(include_top=False, weights="imagenet") downloads it from, and its MD5.
INCEPTION_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + INCEPTION_NOTOP
)
INCEPTION_NOTOP_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"
NO_DOWNLOAD_ENV = "S2F_NO_DOWNLOAD"  # set (not "" / "0"): never download, whatever the caller asked
DOWNLOAD_TIMEOUT_S = 30.0  # per network operation: an unreachable network fails instead of hanging


def gaussian_statistics(features):
    """(mean [D], covariance [D, D]) of features [N, D], float64, unbiased covariance (N - 1)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need features [N >= 2, D], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017).

    d^2 = ||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr((sigma1 sigma2)^{1/2}). The matrix square root is
    `scipy.linalg.sqrtm`; if it is not finite (singular covariances from few samples) `eps * I` is added to
    both covariances; a negligible imaginary part from round-off is dropped.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = (
        np.atleast_2d(sigma1).astype(np.float64),
        np.atleast_2d(sigma2).astype(np.float64),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.all(np.isfinite(covmean)):
            offset = np.eye(len(sigma1)) * eps
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def fid_from_features(real, fake):
    """Fréchet distance between Gaussians fitted to two feature sets [N, D] and [M, D]."""
    return frechet_distance(*gaussian_statistics(real), *gaussian_statistics(fake))


def polynomial_kernel(x, y, degree=3, gamma=None, coef0=1.0):
    """(gamma x.y + coef0)^degree for all row pairs; gamma defaults to 1 / D (KID's kernel)."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (gamma * (x @ y.T) + coef0) ** degree


def kid_from_features(
    real, fake, subsets=10, subset_size=1000, seed=0, degree=3, gamma=None, coef0=1.0
):
    """Kernel inception distance: mean and std of unbiased MMD^2 over random subsets (Binkowski et al.).

    For each of `subsets` draws (without replacement within a draw, `numpy.random.default_rng(seed)`) of
    m = min(subset_size, N, M) rows from each set, the unbiased estimate
    sum_{i!=j} k(x_i, x_j) / (m (m - 1)) + sum_{i!=j} k(y_i, y_j) / (m (m - 1)) - 2 sum_{i,j} k(x_i, y_j) / m^2
    is computed. Its expectation is the population MMD^2 (0 for equal distributions; the estimate can be
    negative). With degree=1, gamma=1, coef0=0 the kernel is linear and the expectation is ||mu_x - mu_y||^2.

    Returns:
        (mean, std) over subsets.
    """
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError("KID needs at least two samples in each set")
    values = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        kxx = polynomial_kernel(x, x, degree, gamma, coef0)
        kyy = polynomial_kernel(y, y, degree, gamma, coef0)
        kxy = polynomial_kernel(x, y, degree, gamma, coef0)
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(within - 2.0 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def keras_cache_dir() -> Path:
    """Where Keras caches downloaded weights: $KERAS_HOME/models or ~/.keras/models."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def inception_weights_path(cache_dir=None) -> Path | None:
    """The InceptionV3 ImageNet no-top weights file if it is in the Keras cache, else None."""
    path = Path(cache_dir or keras_cache_dir()) / INCEPTION_NOTOP
    return path if path.is_file() else None


class InceptionFeatures:
    """uint8 faces [N, H, W, 3] -> InceptionV3 (ImageNet) 2048-d average-pool features, in batches.

    Faces are resized bilinearly to 299x299 and scaled to [-1, 1] (`inception_v3.preprocess_input`). This is
    Keras' InceptionV3, not the 2015 TF graph of the original FID code, so values are close to but not
    identical with published FIDs.

    Args:
        weights: path of a local no-top weights file (`inception_weights_path`, `fetch_inception_weights`).
        batch_size: images per forward pass.

    Example:
    >>> path = inception_weights_path()
    >>> features = InceptionFeatures(path)(faces) if path else None
    """

    name = "inception_v3"

    def __init__(self, weights, batch_size=50):
        import keras

        self.batch_size = batch_size
        self.model = keras.applications.InceptionV3(
            include_top=False, pooling="avg", weights=str(weights), input_shape=(299, 299, 3)
        )

    def __call__(self, images):
        import keras
        import tensorflow as tf

        out = []
        for start in range(0, len(images), self.batch_size):
            batch = tf.image.resize(
                tf.cast(images[start : start + self.batch_size], tf.float32), (299, 299)
            )
            batch = keras.applications.inception_v3.preprocess_input(batch)
            out.append(np.asarray(self.model(batch, training=False)))
        return np.concatenate(out).astype(np.float64)


def downloads_allowed(download: bool = True) -> bool:
    """`download`, unless the environment forbids downloads (`S2F_NO_DOWNLOAD` set to anything but 0)."""
    return bool(download) and os.environ.get(NO_DOWNLOAD_ENV, "") in ("", "0")


def fetch_inception_weights(cache_dir=None) -> Path:
    """Download the InceptionV3 ImageNet no-top weights into `cache_dir` (default: the Keras cache).

    `keras.utils.get_file` with the URL and MD5 that `keras.applications.InceptionV3` uses: the file is
    written under a temporary name by urllib, checked against the MD5 and removed if the transfer failed.
    Raises whatever get_file raises (an `Exception` "URL fetch failure on ..." when offline, ValueError
    for a corrupted transfer).
    """
    import keras

    directory = Path(cache_dir or keras_cache_dir())
    # get_file would fall back to /tmp/.keras for a folder that does not exist yet
    directory.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        path = keras.utils.get_file(
            INCEPTION_NOTOP,
            origin=INCEPTION_NOTOP_URL,
            file_hash=INCEPTION_NOTOP_MD5,
            cache_dir=str(directory),
            cache_subdir="",
        )
    finally:
        socket.setdefaulttimeout(previous)
    return Path(path)


def inception_extractor(cache_dir=None, download: bool = True):
    """(extractor, message): `InceptionFeatures` if the weights are cached or could be fetched, else
    (None, why not).

    Args:
        cache_dir: the folder holding the weights file (default: the Keras cache, `keras_cache_dir()`).
        download: fetch the file when it is missing (`fetch_inception_weights`); the environment variable
            `S2F_NO_DOWNLOAD` forbids it whatever this says.
    """
    path = inception_weights_path(cache_dir)
    if path is not None:
        return InceptionFeatures(path), f"InceptionV3 ImageNet features from {path}"
    where = Path(cache_dir or keras_cache_dir()) / INCEPTION_NOTOP
    missing = (
        f"FID/KID not computed: InceptionV3 ImageNet weights are not in the Keras cache ({where})"
    )
    if not downloads_allowed(download):
        return None, (
            f"{missing} and downloads are off (--no-download or {NO_DOWNLOAD_ENV}). Place that file"
            f" there ({INCEPTION_NOTOP_URL}) or allow the download to get FID/KID."
        )
    try:
        path = fetch_inception_weights(cache_dir)
    except Exception as error:  # offline, a proxy, a server error, a bad transfer: all say the same
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        return None, (
            f"{missing} and could not be downloaded ({reason[:200]}). Place that file there"
            f" ({INCEPTION_NOTOP_URL}) to get FID/KID."
        )
    return InceptionFeatures(path), (
        f"InceptionV3 ImageNet features from {path} (downloaded from {INCEPTION_NOTOP_URL})"
    )
