"""Running a list of layers in sequence: what the three reference networks share."""


def track_layers(model, layers):
    """Also hold each layer as `model.<layer name>`.

    tf.train.Checkpoint cannot see layers held only in a list (a Keras 3 TrackedList is not a TensorFlow
    trackable): without this, checkpoints of the model save no weights.
    """
    for layer in layers:
        setattr(model, layer.name, layer)


def build_stack(layers, input_shape):
    """Build each layer for the shape the previous one produces; return the final shape."""
    shape = tuple(input_shape)
    for layer in layers:
        if not layer.built:
            layer.build(shape)
        shape = tuple(layer.compute_output_shape(shape))
    return shape


def run_stack(layers, x, **kwargs):
    """Apply the layers in order (`training=...` reaches the layers that take it)."""
    for layer in layers:
        x = layer(x, **kwargs)
    return x
