"""Evaluation of a voice-to-face model: metrics of the anchors, judging classifiers, figures, report.

`evaluate(source, workdir, out, options)` is what `s2f evaluate` calls; the metric functions in
`metrics.py` and `fid.py` are pure numpy and usable on their own.
"""

from s2f_tf.evaluate.evaluation import EvalOptions, evaluate, evaluate_model
from s2f_tf.evaluate.sources import PipelineSource

__all__ = ["EvalOptions", "PipelineSource", "evaluate", "evaluate_model"]
