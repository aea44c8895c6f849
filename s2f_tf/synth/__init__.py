"""The synthetic identity corpus: voices (source-filter), faces (Pillow) and the VoxCeleb1-layout writer."""
