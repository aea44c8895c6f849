"""Data: `prepare` (files -> TFRecord shards + dataset.json) and `pipeline` (shards -> tf.data).

`s2f_tf.data.prepare`'s worker processes import no TensorFlow; `records` and `pipeline` do.
"""
