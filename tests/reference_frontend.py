"""A float64 numpy implementation of docs/recipe.md steps 2-7, written from the spec, frame by frame.

It is deliberately the straightforward per-frame loop of the reference (the benchmarks time it too); the
product never uses it.
"""

import numpy as np


def reference_mel_filters(sample_rate=16000, n_fft=1024, n_mels=64, low=20.0, high=7200.0):
    bin_hz = sample_rate / n_fft
    to_mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    to_hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = np.round(to_hz(np.linspace(to_mel(low), to_mel(high), n_mels + 2)) / bin_hz).astype(int)
    filters = np.zeros((n_fft // 2 + 1, n_mels))
    for m in range(n_mels):
        left, center, right = edges[m : m + 3]
        peak = 2.0 / ((right - left) * bin_hz)
        for k in range(left, right + 1):
            if k < center:
                filters[k, m] = peak * (k - left) / (center - left)
            elif k == center:
                filters[k, m] = peak
            else:
                filters[k, m] = peak * (right - k) / (right - center)
    return filters


def reference_logmel(int16_samples, normalize=True):
    """int16-scale samples (1-D array) -> [frames, 64] float64."""
    x = np.asarray(int16_samples, np.float64)
    n = len(x)
    count = n // 160 + 1
    window = np.hamming(400)
    filters = reference_mel_filters()
    previous_last = 0.0
    rows = []
    for i in range(count):
        start = i * 160
        available = x[start : start + 400]
        frame = np.resize(available, 400) if len(available) else np.zeros(400)
        emphasised = np.empty(400)
        emphasised[0] = frame[0] - 0.97 * previous_last
        emphasised[1:] = frame[1:] - 0.97 * frame[:-1]
        previous_last = frame[-1]
        power = np.abs(np.fft.rfft(emphasised * window, 1024)) ** 2
        rows.append(np.log(np.maximum(power @ filters, 1e-5)))
    features = np.array(rows)
    if normalize:
        features = (features - features.mean(0)) / (features.std(0) + np.finfo(np.float32).eps)
    return features
