"""s2f_tf: voice -> face generation (Wen, Raj & Singh, NeurIPS 2019) in TensorFlow / Keras 3.

Importing the package turns TensorFlow's oneDNN CPU kernels on where nobody chose otherwise, before any of
its modules imports TensorFlow (`s2f_tf.onednn`: 2.5x faster training on AVX2-only CPUs).
"""

from s2f_tf import onednn

onednn.prefer_onednn()
