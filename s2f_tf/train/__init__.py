"""Training: the GAN step (once), its two drivers (custom tf.distribute loop and keras fit), pretraining."""

# tf.distribute strategies by name (here, without TensorFlow, so that `s2f train --help` stays fast).
STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
