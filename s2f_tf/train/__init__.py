"""Training: the GAN step (once), its two drivers (custom tf.distribute loop and keras fit), pretraining."""
