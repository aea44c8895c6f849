"""Summaries of per-sample metric values: the mean, its sample count and a bootstrap 95 % interval.

Every metric of `s2f_tf.evaluate.metrics` and `s2f_tf.evaluate.spectrum` returns per-sample values;
`summarize` turns them into what metrics.json and report.md show.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.stats


def bootstrap_ci(values, confidence=0.95, resamples=1000, seed=0):
    """Percentile bootstrap interval of the mean of per-sample `values` (NaNs dropped), or None.

    None when fewer than two finite values remain. Uses `scipy.stats.bootstrap` (percentile method).
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return None
    if np.all(values == values[0]):
        return [float(values[0]), float(values[0])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scipy.stats.bootstrap(
            (values,),
            np.mean,
            n_resamples=resamples,
            confidence_level=confidence,
            method="percentile",
            vectorized=True,
            rng=np.random.default_rng(seed),
        )
    return [float(result.confidence_interval.low), float(result.confidence_interval.high)]


def summarize(values, chance=None, seed=0):
    """{"value": mean, "ci95": [low, high] | None, "n": count[, "chance": chance]} of per-sample values."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    summary = {
        "value": float(finite.mean()) if len(finite) else None,
        "ci95": bootstrap_ci(finite, seed=seed),
        "n": int(len(finite)),
    }
    if chance is not None:
        summary["chance"] = float(chance)
    return summary
