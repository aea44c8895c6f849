"""gpu_check's data: a synthetic corpus with long utterances, prepared; a config fitted to the data's
utterance lengths (see benchmarks/gpu_check.py)."""

from __future__ import annotations

import math
import time
from pathlib import Path


def _concatenate_utterances(corpus_dir: Path, out_dir: Path, group: int) -> int:
    """Write every `group` consecutive utterances of a speaker as one file; returns files written."""
    import numpy as np
    import soundfile

    written = 0
    for speaker in sorted(p for p in (corpus_dir / "wav").iterdir() if p.is_dir()):
        files = sorted(speaker.rglob("*.wav"))
        for k in range(0, len(files) - group + 1, group):
            pieces = [soundfile.read(f, dtype="int16") for f in files[k : k + group]]
            rate = pieces[0][1]
            target = out_dir / speaker.name / "long" / f"{k // group + 1:05d}.wav"
            target.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(target, np.concatenate([p[0] for p in pieces]), rate, subtype="PCM_16")
            written += 1
    return written


def build_data(root: Path, config, plan: dict, concat: int | None) -> dict:
    """Synthesise a corpus and prepare it under `root`; long utterances made by concatenation."""
    from s2f_tf.data import prepare as prep
    from s2f_tf.synth import corpus

    start = time.perf_counter()
    audio = config.audio
    synth = corpus.generate(
        root / "corpus",
        identities=plan["identities"],
        utterances=plan["utterances"],
        faces=plan["faces"],
        seed=0,
        workers=plan["workers"],
    )
    needed_s = audio.min_utterance_frames * audio.frame_step / audio.sample_rate
    mean_s = synth["audio_seconds"] / max(synth["utterances"], 1)
    group = concat or max(1, math.ceil(1.5 * needed_s / mean_s))
    group = min(group, plan["utterances"])
    files = _concatenate_utterances(root / "corpus", root / "long_wav", group)
    summary = prep.prepare(
        prep.PrepareOptions(
            meta=str(root / "corpus" / "vox1_meta.csv"),
            voices=str(root / "long_wav"),
            faces=str(root / "corpus" / "faces"),
            out=str(root / "data"),
            min_frames=min(audio.min_utterance_frames, 300),
            workers=plan["workers"],
        )
    )
    return {
        "dir": str(root / "data"),
        "built": True,
        "synth": {k: synth[k] for k in ("identities", "utterances", "faces", "audio_seconds")},
        "utterances_concatenated": group,
        "long_files": files,
        "prepared": {
            k: summary[k] for k in ("identities", "utterances", "faces", "speech_seconds")
        },
        "build_s": round(time.perf_counter() - start, 1),
    }


def fit_config_to_data(config, data_dir: str):
    """(config, adjustments, usable training utterances): when fewer than 8 training utterances (or not
    all of fewer) reach `audio.min_utterance_frames`, it and the crop lengths are lowered so that they do."""
    from s2f_tf.data.info import load_info

    audio = config.audio
    frames = sorted(load_info(data_dir).split("train")["voice_frames"])
    wanted = min(8, len(frames))
    usable = sum(f >= audio.min_utterance_frames for f in frames)
    if usable >= wanted:
        return config, {}, usable
    shortest = frames[-wanted]  # < min_utterance_frames, since fewer than `wanted` reach it
    longest_crop = min(audio.train_max_frames, shortest)
    changes = {
        "min_utterance_frames": shortest,
        "train_max_frames": longest_crop,
        "train_min_frames": min(audio.train_min_frames, longest_crop),
    }
    adjusted = {
        key: {"preset": getattr(audio, key), "used": value}
        for key, value in changes.items()
        if getattr(audio, key) != value
    }
    return config.replace(audio=changes), adjusted, wanted
