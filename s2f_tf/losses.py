"""Pure loss functions of the recipe, per example (callers scale by the global batch size).

The adversarial terms are the non-saturating GAN losses of Goodfellow et al. (2014) written with
binary cross-entropy on logits, as Wen et al. (2019) train them (BCE(d(f(real)), 1) + BCE(d(f(fake)), 0)
for the discriminator, BCE(d(f(fake)), 1) for the generator); the identity terms are the softmax
cross-entropy of the auxiliary classifier c (Odena et al. 2017, AC-GAN) used by Wen et al.
Beyond the recipe (presets other than wen2019): the hinge terms (Lim & Ye 2017, Miyato et al. 2018), the
R1 penalty on real faces (Mescheder et al. 2018) and the L1 distance of a generated face to a real face
of its voice's identity (pix2pix, Isola et al. 2017).
"""

import tensorflow as tf


def _logits(x):
    x = tf.cast(x, tf.float32)
    return tf.reshape(x, [-1]) if x.shape.rank == 2 and x.shape[-1] == 1 else x


def discriminator_adversarial_loss(real_logits, fake_logits):
    """Per example: BCE(real, 1) + BCE(fake, 0). Real and fake batches have the same size."""
    real = _logits(real_logits)
    fake = _logits(fake_logits)
    return tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.ones_like(real), logits=real
    ) + tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(fake), logits=fake)


def generator_adversarial_loss(fake_logits):
    """Per example: BCE(fake, 1) (the non-saturating generator loss)."""
    fake = _logits(fake_logits)
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(fake), logits=fake)


def identity_loss(labels, class_logits):
    """Per example: softmax cross-entropy of the identity classifier."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=tf.cast(class_logits, tf.float32)
    )


def discriminator_hinge_loss(real_logits, fake_logits):
    """Per example: relu(1 - real) + relu(1 + fake)."""
    return tf.nn.relu(1.0 - _logits(real_logits)) + tf.nn.relu(1.0 + _logits(fake_logits))


def generator_hinge_loss(fake_logits):
    """Per example: -fake."""
    return -_logits(fake_logits)


ADVERSARIAL = {  # TrainConfig.adversarial_loss -> (discriminator loss, generator loss)
    "bce": (discriminator_adversarial_loss, generator_adversarial_loss),
    "hinge": (discriminator_hinge_loss, generator_hinge_loss),
}


def r1_penalty(gradients, gamma):
    """Per example: gamma / 2 * ||gradients||^2, `gradients` = d logit / d real face `[batch, ...]`."""
    gradients = tf.cast(gradients, tf.float32)
    return 0.5 * gamma * tf.reduce_sum(tf.square(gradients), axis=tf.range(1, tf.rank(gradients)))


def l1_distance(generated, real):
    """Per example: the mean absolute difference of two faces `[batch, ...]` (pixels in [-1, 1])."""
    difference = tf.abs(tf.cast(generated, tf.float32) - tf.cast(real, tf.float32))
    return tf.reduce_mean(difference, axis=tf.range(1, tf.rank(difference)))
