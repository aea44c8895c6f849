"""The attribute judge: one softmax-regression head per face attribute on the identity judge's embedding.

The identity classifier (`classifiers.py`) is trained on real faces of the training identities; its
embedder, frozen, already separates them by what their faces show (skin, hair, beard, glasses, ...). Each
attribute of `s2f_tf.synth.attributes` but gender (the gender classifier answers for it:
`judges.predict_attributes`) gets a multinomial logistic regression on that embedding (standardised with
the training faces' mean and deviation, L2-penalised, fitted by L-BFGS from zeros, at most
`MAX_ITERATIONS`: deterministic, about a second on the demo's 1,456 faces), trained on the same real
faces as the classifier. Generated faces are judged from the embeddings evaluation computes for them
anyway, so judging them costs one matrix product per attribute.

Example:
>>> heads = fit_heads(embeddings, {"glasses": targets}, {"glasses": ("no", "yes")})
>>> heads.predict(other_embeddings)["glasses"]  # class indices
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.optimize

VERSION = 1  # of the heads' recipe (in the judges' cache key)
L2 = 1e-2  # penalty on the weights, per face (the mean cross-entropy + L2 / 2 * |W|^2)
MAX_ITERATIONS = 500


@dataclasses.dataclass
class AttributeHeads:
    """Softmax heads on a face embedding, one per attribute.

    Args:
        classes: attribute -> its class names (class index = position).
        mean, scale: [D] the standardisation of the embedding (the training faces' mean and deviation).
        weights: attribute -> [D, C] weights. biases: attribute -> [C] biases.
    """

    classes: dict[str, tuple[str, ...]]
    mean: np.ndarray
    scale: np.ndarray
    weights: dict[str, np.ndarray]
    biases: dict[str, np.ndarray]

    def logits(self, embeddings) -> dict[str, np.ndarray]:
        x = (np.asarray(embeddings, np.float64) - self.mean) / self.scale
        return {name: x @ self.weights[name] + self.biases[name] for name in self.classes}

    def predict(self, embeddings) -> dict[str, np.ndarray]:
        """attribute -> int [N] the most probable class of each embedding."""
        return {name: np.argmax(z, axis=1) for name, z in self.logits(embeddings).items()}

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything as named arrays (for `numpy.savez`); `from_arrays` reads them back."""
        out = {"mean": self.mean, "scale": self.scale}
        for name in self.classes:
            out[f"{name}/weights"] = self.weights[name]
            out[f"{name}/biases"] = self.biases[name]
        return out

    @classmethod
    def from_arrays(cls, classes, arrays) -> AttributeHeads:
        return cls(
            classes={name: tuple(c) for name, c in classes.items()},
            mean=np.asarray(arrays["mean"]),
            scale=np.asarray(arrays["scale"]),
            weights={name: np.asarray(arrays[f"{name}/weights"]) for name in classes},
            biases={name: np.asarray(arrays[f"{name}/biases"]) for name in classes},
        )


def fit_softmax(x, y, num_classes, l2=L2):
    """(weights [D, C], biases [C]) of the L2-penalised multinomial logistic regression of int labels
    `y` [N] (in [0, num_classes)) on features `x` [N, D], by L-BFGS from zeros (deterministic)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.int64)
    n, d = x.shape
    target = np.zeros((n, num_classes))
    target[np.arange(n), y] = 1.0

    def loss_and_grad(theta):
        w, b = theta[: d * num_classes].reshape(d, num_classes), theta[d * num_classes :]
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        residual = (np.exp(log_p) - target) / n
        loss = -(target * log_p).sum() / n + 0.5 * l2 * (w * w).sum()
        grad = np.concatenate([(x.T @ residual + l2 * w).ravel(), residual.sum(axis=0)])
        return loss, grad

    theta = np.zeros(d * num_classes + num_classes)
    found = scipy.optimize.minimize(
        loss_and_grad,
        theta,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": MAX_ITERATIONS},
    )
    return found.x[: d * num_classes].reshape(d, num_classes), found.x[d * num_classes :]


def fit_heads(embeddings, targets, classes, l2=L2) -> AttributeHeads:
    """One softmax head per attribute of `targets` (attribute -> int [N] class per face, -1 unknown:
    left out of that head's fit) on `embeddings` [N, D]; `classes`: attribute -> class names."""
    x = np.asarray(embeddings, np.float64)
    mean = x.mean(axis=0)
    scale = np.maximum(x.std(axis=0), 1e-6)
    x = (x - mean) / scale
    weights, biases = {}, {}
    for name, y in targets.items():
        known = np.asarray(y) >= 0
        if known.any():  # an attribute no face is labelled with gets no head
            weights[name], biases[name] = fit_softmax(
                x[known], np.asarray(y)[known], len(classes[name]), l2
            )
    return AttributeHeads({n: tuple(classes[n]) for n in weights}, mean, scale, weights, biases)
