"""Building a list of layers that runs in sequence (the models' `build` methods share this)."""


def build_stack(layers, input_shape):
    """Build each layer for the shape the previous one produces; return the final shape."""
    shape = tuple(input_shape)
    for layer in layers:
        if not layer.built:
            layer.build(shape)
        shape = tuple(layer.compute_output_shape(shape))
    return shape
