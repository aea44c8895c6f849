"""Export (SavedModel for TF Serving, TFLite for LiteRT) and inference of the waveform -> face model.

The constants live here so the command line can show them without importing TensorFlow.
"""

from s2f_tf.config import CONFIG_FILE

CONTRACT = CONFIG_FILE  # the export's contract (preset, sample rate, inputs and outputs), beside it
NON_FINITE = "the waveform contains NaN or infinite samples"  # how the exported models refuse one

QUANTIZATIONS = (
    "fp32",
    "fp16",
    "int8",
)  # TFLite variants: float32, float16 weights, int8 dynamic range.
FP32_TOLERANCE = 1e-4  # max |face_float - Keras| for the SavedModel and the fp32 TFLite file.

# `s2f app`: the largest request accepted (checked before decoding, and the duration again after it).
APP_MAX_SECONDS = 600.0  # 10 minutes of audio
APP_MAX_BYTES = 50 * 1000 * 1000  # 50 MB
