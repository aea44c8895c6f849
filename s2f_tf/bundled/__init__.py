"""The trained model that ships inside the package, so that `s2f generate` and `s2f app` draw faces right
after `pip install`, with no training and no TensorFlow import.

What it is: the demo's default model (`s2f demo --seed 0 --precision float32`, the `small` preset) trained
on the embedded synthetic corpus, exported as one TFLite file. It draws the cartoon faces of that corpus
from a voice: a way to try the whole pipeline, not a model of real people. Real faces need training on
VoxCeleb1 x VGGFace (README: "Real data") or the authors' released weights (`s2f import-torch`).

Files here: `MODEL` (the waveform -> face TFLite model), `config.json` (its export contract, read by
`s2f_tf.serving.inference`), `export_report.json` (its export checks), `metrics.json` and `report.md` (the
demo's evaluation of it), `reference.npz` (check clips and the faces it drew for them when it was built).
`export/build_bundled.py` rebuilds all of them from scratch.

Example:
>>> from s2f_tf.serving.inference import load_model
>>> model = load_model("bundled")  # the same as load_model(s2f_tf.bundled.model_path())
"""

from __future__ import annotations

from pathlib import Path

from s2f_tf.errors import S2FError

NAME = "bundled"  # what `--model` names it by
FOLDER = Path(__file__).resolve().parent
MODEL = FOLDER / "s2f_bundled.tflite"
REFERENCE = FOLDER / "reference.npz"
DESCRIPTION = "the demo's model of the synthetic cartoon corpus, shipped with the package"


def model_path() -> Path:
    """The bundled TFLite file; S2FError where this installation lacks it."""
    if not MODEL.is_file():
        raise S2FError(
            f"the bundled model is missing from this installation ({MODEL}); rebuild it with"
            " `python export/build_bundled.py` or give --model"
        )
    return MODEL
