"""Export (SavedModel for TF Serving, TFLite for LiteRT) and inference of the waveform -> face model."""
