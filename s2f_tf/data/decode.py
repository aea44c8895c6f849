"""Decoding one prepared example: an utterance (decode, resample, VAD) or a face (RGB, centre square, resize).

Runs in `prepare`'s worker processes; a bad file gives (None, reason), never an exception.
"""

from __future__ import annotations

import collections
import os

import numpy as np
from PIL import Image, ImageOps

from s2f_tf import audio as audio_io
from s2f_tf.config import AudioConfig


def load_utterance(path, audio: AudioConfig, min_frames: int) -> tuple[np.ndarray | None, str]:
    """(VAD'd int16 samples, "") or (None, reason) for one audio file."""
    try:
        samples = audio_io.load_audio(path, audio.sample_rate)
    except audio_io.AudioFileError as error:
        return None, error.reason
    if len(samples) < audio.frame_length:
        return None, "too_short"
    speech = audio_io.voiced(samples, audio)
    if speech.size == 0:
        return None, "no_speech"
    if audio.num_frames(speech.size) < min_frames:
        return None, "too_short"
    return speech, ""


def load_face(path, size: int) -> tuple[np.ndarray | None, str]:
    """(uint8 [size, size, 3], "") or (None, reason): any mode -> RGB, centre square, Lanczos resize."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode in ("P", "PA", "LA", "RGBA", "La", "RGBa"):
                rgba = image.convert("RGBA")
                image = Image.new("RGB", rgba.size, (255, 255, 255))
                image.paste(rgba, mask=rgba.getchannel("A"))
            image = image.convert("RGB")
            image = ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS)
            pixels = np.asarray(image, np.uint8)
    except Exception:  # noqa: BLE001 - any decoder failure is a bad file, never a crash
        return None, "unreadable_image"
    return pixels, ""


def process_shard(shard: dict, voices_root: str, faces_root: str, min_frames: int, image_size: int):
    """Decode one shard's files: (records, skipped Counter, seconds of speech)."""
    audio = AudioConfig()
    records, skipped, seconds = [], collections.Counter(), 0.0
    for relative, label, gender, name in shard["items"]:
        if shard["kind"] == "voices":
            data, reason = load_utterance(os.path.join(voices_root, relative), audio, min_frames)
            if data is not None:
                seconds += data.size / audio.sample_rate
        else:
            data, reason = load_face(os.path.join(faces_root, relative), image_size)
        if data is None:
            skipped[reason] += 1
        else:
            records.append((data, label, gender, name, relative))
    return records, skipped, seconds
