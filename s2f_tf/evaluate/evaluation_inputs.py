"""What an evaluation starts from: the work directory's config and the dataset (splits checked), the FID/KID
feature extractor, and the real faces each split's generated faces are compared with."""

from __future__ import annotations

from s2f_tf.errors import S2FError
from s2f_tf.evaluate.eval_options import SPLITS
from s2f_tf.evaluate.fid import inception_extractor
from s2f_tf.evaluate.judges import Faces, face_counts, load_split_faces, split_info
from s2f_tf.evaluate.sources import SEEN, choose

REFERENCE_SALT = 2  # sources.choose salt of the unseen splits' reference faces


def reference_faces(source, info, split, judges, options) -> Faces:
    """The real faces the generated ones of `split` are compared with: the judges' held-out faces for
    the seen identities, else at most `options.max_faces` per identity of the split (a seeded subset)."""
    if split == SEEN:
        return judges.heldout
    keep = None
    if options.max_faces:
        counts = face_counts(source, info, split)
        keep = choose(counts, options.max_faces, options.seed, salt=REFERENCE_SALT)
    return load_split_faces(source, info, split, keep)


def dataset_size(info, reference: Faces) -> int:
    """The side in pixels of the dataset's faces (what the judges were trained at): the prepared
    dataset's `image_size`, else that of its real faces `reference`."""
    size = getattr(info, "image_size", None)
    return int(size) if size else int(reference.images.shape[1])


def config_and_data(workdir, data_source, options):
    """(the work directory's config, the dataset info); S2FError for a split that is not there."""
    from s2f_tf import workdir as wd

    for split in options.splits:
        if split not in SPLITS:
            raise S2FError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    config = wd.load_config(workdir)
    info = data_source.info()
    for split in options.splits:
        split_info(info, split)
    return config, info


def feature_extractor(extractor, options):
    """(FID/KID feature extractor or None, what the report says of it)."""
    if extractor == "auto":
        return inception_extractor(options.inception_cache, download=options.download_inception)
    return extractor, "custom feature extractor" if extractor is not None else "FID/KID disabled"
