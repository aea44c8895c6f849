"""The synthetic identity corpus in the VoxCeleb1 / VGGFace1 layout (the project's embedded default data).

    DIR/vox1_meta.csv                        VoxCeleb1 meta format (tab-separated)
    DIR/attributes.csv                       each identity's face attributes and voice latents (not part of
                                             the real layout: `s2f_tf.synth.attributes`)
    DIR/wav/<idNNNNN>/<video>/<NNNNN>.wav    16 kHz mono int16
    DIR/faces/<First_Last>/<NNNNNNNN>.jpg    128x128 JPEG

Each identity draws latent attributes (gender, age group, vocal-tract length, F0, ...) that drive both its
voice (s2f_tf.synth.voices) and its face (s2f_tf.synth.faces): gender, vocal-tract length (face size and
width), age (hair greyness, wrinkles) and a hidden community (accent <-> skin-tone and hair-colour
distributions) are shared between the two; eye colour, glasses, jaw, fringe, beard, the exact tints and most
of the skin/hair variation are face-only; clothing and background change per photo. Everything derives
from one seed, so a seed gives the same files byte for byte.

Utterance lengths (`lengths`), as the VAD'd speech length `s2f prepare` keeps:
- "short" (the default, the demo corpus): speech drawn uniformly from 4.5-7.5 s, about 3.3-9 s after the
  VAD (mean ~6 s); only ~10 % reach the `wen2019` preset's 800-frame training minimum.
- "voxceleb": VoxCeleb1-like (mean 8.2 s, minimum 4 s, most between 4 and 20 s, a long right tail): a
  shifted log-normal, T = 4 s + exp(N(ln 3.05, 0.8)), clipped to [4, 30] s: mean 8.2 s, median 7.05 s,
  90 % below 12.5 s, ~2 % above 20 s. Like VoxCeleb1's own (its mean is above its median), fewer than half
  reach 800 frames: ~37 % of utterances, and nearly every identity keeps some (1 - 0.63^k with k
  utterances each). The speech target handed to the synthesiser is (T - 0.55 s) / 1.03, the measured
  relation between it and the VAD'd length.

Example:
>>> summary = generate("corpus", identities=8, utterances=3, faces=2, seed=0, workers=1)
"""

from __future__ import annotations

import colorsys
import os
import time
from pathlib import Path

import numpy as np
import soundfile
import tqdm

from s2f_tf.audio import to_int16
from s2f_tf.errors import S2FError
from s2f_tf.files import atomic_directory
from s2f_tf.pools import process_pool
from s2f_tf.synth import attributes
from s2f_tf.synth import faces as face_drawer
from s2f_tf.synth import voices as voice_synth
from s2f_tf.synth.identities import HELD_OUT_LETTERS, Identity, sample_identities, write_meta

SAMPLE_RATE = 16000

# Utterance lengths (see the module docstring): "short" keeps the demo corpus byte for byte.
LENGTHS = ("short", "voxceleb")
SHORT_SECONDS = (4.5, 7.5)  # uniform speech target of "short"
VOXCELEB_SHIFT_S, VOXCELEB_LOG_MEDIAN, VOXCELEB_LOG_SIGMA = 4.0, float(np.log(3.05)), 0.8
VOXCELEB_MAX_S = 30.0
VAD_SLOPE, VAD_OFFSET_S = 1.03, 0.55  # VAD'd seconds ~ 1.03 * speech target + 0.55 (measured)


def _clothing(rng):
    """A random clothing colour: drawn per photo, so it says nothing about who is in it."""
    hue, saturation, value = rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9)
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, saturation, value))


def random_photo(rng) -> face_drawer.Photo:
    """One photo's conditions as the corpus draws them: pose, zoom, light, expression, background,
    blur and clothing, all per photo."""
    light = [tuple(int(x) for x in rng.integers(40, 240, 3)) for _ in range(2)]
    return face_drawer.Photo(
        angle=float(rng.normal(0, 5)),
        shift=(float(rng.normal(0, 3)), float(rng.normal(0, 3))),
        scale=float(rng.uniform(0.9, 1.12)),
        light=float(rng.uniform(0.75, 1.25)),
        warmth=float(rng.uniform(-1, 1)),
        smile=float(rng.uniform(-0.3, 1.0)),
        eyes_open=float(rng.uniform(0.6, 1.0)),
        background=(light[0], light[1]),
        blur=float(rng.uniform(0.3, 1.0)) if rng.random() < 0.3 else 0.0,
        shirt=_clothing(rng),
    )


def _video_ids(rng, count):
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    return ["".join(rng.choice(alphabet, 11)) for _ in range(count)]


def speech_seconds(rng, lengths: str = "short") -> float:
    """One utterance's speech target for `voices.Recording.seconds` (see the module docstring)."""
    if lengths == "short":
        return float(rng.uniform(*SHORT_SECONDS))
    if lengths == "voxceleb":
        vad = VOXCELEB_SHIFT_S + np.exp(rng.normal(VOXCELEB_LOG_MEDIAN, VOXCELEB_LOG_SIGMA))
        vad = min(float(vad), VOXCELEB_MAX_S)
        return (vad - VAD_OFFSET_S) / VAD_SLOPE
    raise S2FError(f"--lengths must be one of {', '.join(LENGTHS)}, got {lengths!r}")


def render_identity(
    out_dir,
    person: Identity,
    index: int,
    utterances: int,
    faces: int,
    seed: int,
    lengths: str = "short",
):
    """Write one identity's utterances and photos under `out_dir`.

    Returns (utterances, faces, audio seconds, CPU seconds of the voices, CPU seconds of the faces).
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng([seed, 1, index])
    videos = _video_ids(rng, int(rng.integers(2, 6)) if utterances > 1 else 1)
    conditions = [
        dict(
            snr=rng.uniform(8, 30), colour=rng.uniform(0, 1), hum=rng.choice([0.0, 0.0, 50.0, 60.0])
        )
        for _ in videos
    ]
    counters = [0] * len(videos)
    seconds = 0.0
    voice_cpu = time.process_time()
    for k in range(utterances):
        v = k % len(videos) if k < len(videos) else int(rng.integers(len(videos)))
        counters[v] += 1
        c = conditions[v]
        recording = voice_synth.Recording(
            seconds=speech_seconds(rng, lengths),
            snr_db=float(c["snr"] + rng.normal(0, 3)),
            lead=float(rng.uniform(0.2, 1.0)),
            trail=float(rng.uniform(0.2, 1.0)),
            noise_colour=float(c["colour"]),
            hum_hz=float(c["hum"]),
            gain=float(rng.uniform(0.2, 0.9)),
        )
        wave = voice_synth.synthesize(person.voice, recording, rng, SAMPLE_RATE)
        path = out_dir / "wav" / person.voxceleb_id / videos[v] / f"{counters[v]:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, to_int16(wave), SAMPLE_RATE, subtype="PCM_16")
        seconds += len(wave) / SAMPLE_RATE
    face_cpu = time.process_time()
    voice_cpu = face_cpu - voice_cpu
    face_dir = out_dir / "faces" / person.name
    face_dir.mkdir(parents=True, exist_ok=True)
    for k in range(faces):
        image = face_drawer.draw(person.face, random_photo(rng), rng)
        image.save(face_dir / f"{k + 1:08d}.jpg", quality=int(rng.integers(80, 96)))
    return utterances, faces, seconds, voice_cpu, time.process_time() - face_cpu


def generate(
    out, identities=120, utterances=20, faces=20, seed=0, workers=None, lengths="short"
) -> dict:
    """Write the corpus to `out` (built in a temporary sibling, renamed when complete).

    Args:
        out: the corpus directory; must not exist or be empty.
        identities, utterances, faces: corpus size (utterances and photos per identity);
            identities up to `max_identities()` (3,855), e.g. 1,251 like VoxCeleb1.
        seed: everything derives from it.
        workers: processes (default: all cores); 1 runs in this process. The bytes do not depend on it.
        lengths: utterance lengths, "short" (default) or "voxceleb" (see the module docstring).

    Returns the JSON summary, with the CPU time spent (voices per minute of audio, faces per photo).
    """
    start = time.perf_counter()
    out = Path(out)
    if utterances < 1 or faces < 1:
        raise S2FError("--utterances and --faces must be at least 1")
    if lengths not in LENGTHS:
        raise S2FError(f"--lengths must be one of {', '.join(LENGTHS)}, got {lengths!r}")
    if out.exists():
        if not out.is_dir() or any(out.iterdir()):
            raise S2FError(f"{out} exists and is not empty; choose a new --out")
        out.rmdir()
    people = sample_identities(identities, seed)
    workers = max(1, min(workers or os.cpu_count() or 1, len(people)))
    with atomic_directory(out) as tmp:
        write_meta(tmp / "vox1_meta.csv", people)
        attributes.write(tmp / attributes.FILE, people)
        jobs = [(tmp, p, i, utterances, faces, seed, lengths) for i, p in enumerate(people)]
        totals = _render_all(jobs, workers)
    held_out = sum(p.name[0] in HELD_OUT_LETTERS for p in people)
    return {
        "out": str(out),
        "meta": str(out / "vox1_meta.csv"),
        "attributes": str(out / attributes.FILE),
        "identities": len(people),
        "held_out_identities": held_out,
        "female": sum(p.gender == "f" for p in people),
        "utterances": int(totals[0]),
        "faces": int(totals[1]),
        "audio_seconds": round(float(totals[2]), 1),
        "lengths": lengths,
        "seed": seed,
        "workers": workers,
        "elapsed_s": round(time.perf_counter() - start, 2),
        "cpu": {  # summed over the workers
            "voices_s": round(float(totals[3]), 2),
            "faces_s": round(float(totals[4]), 2),
            "voices_s_per_audio_minute": round(float(totals[3] / max(totals[2] / 60, 1e-9)), 3),
            "faces_ms_each": round(float(1000 * totals[4] / max(totals[1], 1)), 2),
        },
    }


def _render_all(jobs, workers: int) -> np.ndarray:
    """Run `render_identity` on every job (in a process pool when workers > 1); the summed totals
    (utterances, faces, audio seconds, voice CPU s, face CPU s)."""
    totals = np.zeros(5)
    bar = tqdm.tqdm(total=len(jobs), desc="synth", unit="id", leave=False)
    if workers == 1:
        for job in jobs:
            totals += render_identity(*job)
            bar.update()
    else:
        with process_pool(workers) as pool:
            for result in pool.map(render_identity, *zip(*jobs, strict=True)):
                totals += result
                bar.update()
    bar.close()
    return totals
