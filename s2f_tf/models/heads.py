"""The discriminator and classifier heads: bias-free linear maps on the shared face embedding."""

import keras


def discriminator_head(embedding_dim=64, name="discriminator"):
    """d: face embedding `[batch, embedding_dim]` -> real/fake logit `[batch, 1]` (Linear, no bias)."""
    head = keras.layers.Dense(1, use_bias=False, name=name)
    head.build((None, embedding_dim))
    return head


def classifier_head(num_classes, embedding_dim=64, name="classifier"):
    """c: face embedding -> identity logits `[batch, num_classes]` (Linear, no bias)."""
    head = keras.layers.Dense(num_classes, use_bias=False, name=name)
    head.build((None, embedding_dim))
    return head
