"""Where evaluation reads its data: a prepared dataset, plus the pseudo-split "unseen" (val + test).

Any object with `info()`, `faces(split)` and `voices(split, config)` can stand in for `PipelineSource`
(the tests use constructed faces).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from s2f_tf.errors import S2FError
from s2f_tf.evaluate.judges import lookup

UNSEEN = "unseen"  # val and test together: every identity that training never saw
UNSEEN_PARTS = ("val", "test")


class PipelineSource:
    """The prepared dataset read through `s2f_tf.data.pipeline` (load_info, load_faces, eval_voices), plus
    the pseudo-split "unseen" = val + test with test labels offset by val's identity count."""

    def __init__(self, data_dir):
        try:
            from s2f_tf.data import pipeline
        except ImportError as error:
            raise S2FError(f"the data pipeline is not available: {error}") from None
        self.data_dir = str(data_dir)
        self.pipeline = pipeline

    def info(self):
        info = self.pipeline.load_info(self.data_dir)
        offsets = _unseen_offsets(info)
        if not offsets:
            return info
        parts = [info.splits[part] for part in offsets]
        union = {
            "num_classes": sum(int(p["num_classes"]) for p in parts),
            "names": [n for p in parts for n in _as_list(p["names"], p["num_classes"])],
            "genders": [g for p in parts for g in _as_list(p["genders"], p["num_classes"])],
            "parts": list(offsets),
        }
        return dataclasses.replace(info, splits={**info.splits, UNSEEN: union})

    def faces(self, split):
        if split != UNSEEN:
            return self.pipeline.load_faces(self.data_dir, split)
        offsets = _unseen_offsets(self.pipeline.load_info(self.data_dir))
        loaded = {part: self.pipeline.load_faces(self.data_dir, part) for part in offsets}
        return (
            np.concatenate([loaded[p][0] for p in offsets]),
            np.concatenate([loaded[p][1] + offsets[p] for p in offsets]),
            np.concatenate([loaded[p][2] for p in offsets]),
        )

    def voices(self, split, config):
        if split != UNSEEN:
            return self.pipeline.eval_voices(self.data_dir, config, split)
        offsets = _unseen_offsets(self.pipeline.load_info(self.data_dir))
        datasets = [
            self.pipeline.eval_voices(self.data_dir, config, part).map(
                lambda item, shift=shift: {**item, "voice_label": item["voice_label"] + shift}
            )
            for part, shift in offsets.items()
        ]
        combined = datasets[0]
        for ds in datasets[1:]:
            combined = combined.concatenate(ds)
        return combined


def _unseen_offsets(info) -> dict:
    """{part: label offset} of the non-empty unseen splits, in UNSEEN_PARTS order."""
    offsets, total = {}, 0
    for part in UNSEEN_PARTS:
        count = int(info.splits.get(part, {}).get("num_classes", 0))
        if count:
            offsets[part] = total
            total += count
    return offsets


def _as_list(mapping, count):
    return [lookup(mapping, i) for i in range(int(count))]
