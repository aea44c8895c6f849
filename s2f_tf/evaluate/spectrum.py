"""High-frequency power of generated against real faces (Odena et al. 2016; Durall et al. 2020): the
checkerboards and fine-grained artefacts of transposed-convolution upsampling, which a face embedding
hardly sees.
"""

from __future__ import annotations

import numpy as np


def top_octave_power(images, chunk=256):
    """Per-image mean spectral power in the top octave of the 2-D image spectrum (high-frequency artefacts).

    Generators that upsample with transposed convolutions leave checkerboards and other fine-grained
    artefacts that a face embedding hardly sees (Odena, Dumoulin & Olah, "Deconvolution and Checkerboard
    Artifacts", Distill 2016); their power sits at the top of the spectrum (Durall, Keuper & Keuper,
    "Watch your Up-Convolution", CVPR 2020, compare generated and real faces' spectra). Here each image's
    luminance (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B, in the images' own units) has its mean
    subtracted, is multiplied by a 2-D Hann window (periodic, the outer product of two) and
    Fourier-transformed; |F(u, v)|^2 / sum(window^2) (white noise of variance s^2 gives s^2 in every bin)
    is averaged over the bins whose *max-norm* frequency max(|u|, |v|) lies in [1/4, 1/2] cycles/pixel:
    the top octave, 0.5 to 1.0 of Nyquist (about three quarters of all bins). The max norm, not the
    radial one, keeps the spectrum's corners, where a checkerboard of period 2 px (u = v = 1/2, radial
    0.71) puts all its power. Compare only images of one size: the band is in cycles per pixel.

    Args:
        images: [N, H, W, 3] (or [N, H, W] grey) images, uint8 or float.
        chunk: images transformed at once (bounds the memory of the complex spectra).

    Returns:
        float [N].
    """
    import scipy.signal

    images = np.asarray(images)
    height, width = images.shape[1:3]
    window = np.outer(
        scipy.signal.windows.hann(height, sym=False), scipy.signal.windows.hann(width, sym=False)
    )
    u, v = np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")
    band = np.maximum(np.abs(u), np.abs(v)) >= 0.25
    luminance = np.array([0.299, 0.587, 0.114])
    out = np.empty(len(images))
    for start in range(0, len(images), chunk):
        part = images[start : start + chunk].astype(np.float64)
        grey = part @ luminance if part.ndim == 4 else part
        grey = (grey - grey.mean(axis=(1, 2), keepdims=True)) * window
        power = np.abs(np.fft.fft2(grey)) ** 2 / np.sum(window**2)
        out[start : start + chunk] = power[:, band].mean(axis=1)
    return out


def power_ratio(generated_power, real_power, resamples=1000, seed=0):
    """The ratio of two image sets' mean per-image powers, with a percentile bootstrap interval.

    Args:
        generated_power: float [N] per-image powers of the generated faces (e.g. `top_octave_power`).
        real_power: float [M] those of the real faces.
        resamples: bootstrap draws; each resamples both sets independently, with replacement.
        seed: seeds `numpy.random.default_rng`.

    Returns:
        {"value": mean(generated) / mean(real), "ci95": [low, high] | None, "n_real": M, "n_fake": N};
        value None when the real faces have no power (or either set is empty).
    """
    fake = np.asarray(generated_power, np.float64)
    real = np.asarray(real_power, np.float64)
    summary = {"value": None, "ci95": None, "n_real": int(len(real)), "n_fake": int(len(fake))}
    if not len(fake) or not len(real) or real.mean() <= 0:
        return summary
    summary["value"] = float(fake.mean() / real.mean())
    if min(len(fake), len(real)) >= 2:
        rng = np.random.default_rng(seed)
        draws = [
            rng.choice(fake, len(fake)).mean() / max(rng.choice(real, len(real)).mean(), 1e-300)
            for _ in range(resamples)
        ]
        summary["ci95"] = [float(q) for q in np.percentile(draws, [2.5, 97.5])]
    return summary


def top_octave_ratio(generated, real, seed=0):
    """`power_ratio` of the `top_octave_power` of two image sets of one size: 1 when the generated faces
    have as much fine detail as the real ones, above 1 with high-frequency artefacts, below 1 when blurred.

    Example:
    >>> top_octave_ratio(faces, faces)["value"]
    1.0
    """
    generated, real = np.asarray(generated), np.asarray(real)
    if generated.shape[1:3] != real.shape[1:3]:
        raise ValueError(f"image sizes differ: {generated.shape[1:3]} vs {real.shape[1:3]}")
    return power_ratio(top_octave_power(generated), top_octave_power(real), seed=seed)
