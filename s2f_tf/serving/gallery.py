"""Real faces of a prepared dataset's training identities, looked up by the model's voice embedding.

An export carries no faces and no dataset path (its report names only the work directory), and an
evaluation keeps metrics and figures, not embeddings. So the gallery is built from a prepared dataset
(`s2f prepare --out`): each training identity's voice is the mean of the exported model's `embedding` over
a few of its utterances (the held-out ones where the split exists, else training ones), L2-normalised, and
its face is the first of its real faces. `nearest(embedding)` ranks identities by cosine similarity: the
training speakers whose voices the model places closest to the one it was given.

Example:
>>> gallery = Gallery.from_dataset("demo_out/data", load_model("savedmodels/s2f_demo"))
>>> [(gallery.names[i], round(s, 2)) for i, s in gallery.nearest(model(waveform)["embedding"], k=3)]
"""

from __future__ import annotations

import dataclasses

import numpy as np

from s2f_tf.errors import S2FError

UTTERANCES_PER_IDENTITY = 3
MAX_UTTERANCE_SECONDS = (
    8.0  # longer utterances are cut: the embedding of a few seconds is stable enough
)


@dataclasses.dataclass(frozen=True)
class Gallery:
    """Training identities: `names` [N], `genders` [N] ("m"/"f"), `faces` uint8 [N, S, S, 3] and
    `embeddings` float32 [N, D] (unit length); `source` is the dataset directory, `voice_split` the split
    whose utterances gave the embeddings."""

    names: list
    genders: list
    faces: np.ndarray
    embeddings: np.ndarray
    source: str
    voice_split: str

    def __len__(self) -> int:
        return len(self.names)

    def nearest(self, embedding, k: int = 4) -> list[tuple[int, float]]:
        """(identity index, cosine similarity) of the `k` identities closest to `embedding`, best first."""
        query = np.asarray(embedding, np.float32).reshape(-1)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        similarity = self.embeddings @ query
        order = np.argsort(-similarity, kind="stable")[:k]
        return [(int(i), float(similarity[i])) for i in order]

    def label(self, index: int, similarity: float) -> str:
        return f"{self.names[index]} ({self.genders[index]}) · cos {similarity:.2f}"

    @classmethod
    def from_dataset(
        cls,
        data_dir,
        model,
        utterances: int = UTTERANCES_PER_IDENTITY,
        max_seconds: float = MAX_UTTERANCE_SECONDS,
    ) -> Gallery:
        """Embed up to `utterances` utterances of every training identity of `data_dir` with `model`
        (a `load_model` result); S2FError if the dataset is missing, of another sample rate, or has no
        voice or face for some identity."""
        from s2f_tf.data import pipeline
        from s2f_tf.data.info import load_info

        info = load_info(data_dir)
        if info.sample_rate != model.sample_rate:
            raise S2FError(
                f"--gallery {data_dir}: its audio is {info.sample_rate} Hz, the model takes"
                f" {model.sample_rate} Hz"
            )
        names, genders = info.names("train"), info.genders("train")
        heldout = info.splits.get("train_heldout", {})
        split = "train_heldout" if heldout.get("voices") else "train"
        waveforms = _first_utterances(
            info.files(split, "voices"), len(names), utterances, int(max_seconds * info.sample_rate)
        )
        faces, face_labels, _ = pipeline.load_faces(data_dir, "train")
        first_face = {}
        for index, label in enumerate(face_labels):
            first_face.setdefault(int(label), index)
        missing = [names[i] for i in range(len(names)) if not waveforms[i] or i not in first_face]
        if missing:
            raise S2FError(
                f"--gallery {data_dir}: no {split} voice or no face for {len(missing)} training"
                f" identities (e.g. {missing[0]})"
            )
        embeddings = np.stack(
            [
                np.mean([model(w)["embedding"] for w in waveforms[i]], axis=0)
                for i in range(len(names))
            ]
        ).astype(np.float32)
        embeddings /= np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
        return cls(
            names=list(names),
            genders=list(genders),
            faces=faces[[first_face[i] for i in range(len(names))]],
            embeddings=embeddings,
            source=str(data_dir),
            voice_split=split,
        )


def _first_utterances(files, num_labels: int, per_label: int, max_samples: int) -> list[list]:
    """The first `per_label` utterances of each label in `files` (voice shards), as float32 waveforms."""
    import tensorflow as tf

    from s2f_tf.data import records

    found = [[] for _ in range(num_labels)]
    remaining = num_labels
    for record in tf.data.TFRecordDataset(files).map(records.parse_voice).as_numpy_iterator():
        label = int(record["label"])
        if not 0 <= label < num_labels or len(found[label]) >= per_label:
            continue
        found[label].append(record["samples"][:max_samples].astype(np.float32) / 32768.0)
        if len(found[label]) == per_label:
            remaining -= 1
            if remaining == 0:
                break
    return found
