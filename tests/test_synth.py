"""s2f_tf.synth: the synthetic identity corpus (layout, meta format, determinism, shared latents)."""

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from s2f_tf import cli
from s2f_tf.audio import voiced
from s2f_tf.errors import S2FError
from s2f_tf.synth import attributes, corpus, identities
from s2f_tf.synth.voices import Recording, VoiceTraits, synthesize


def _digest(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "corpus"
    summary = corpus.generate(out, identities=8, utterances=3, faces=2, seed=5, workers=1)
    return out, summary


def test_layout_and_summary(small_corpus):
    out, summary = small_corpus
    assert summary["identities"] == 8 and summary["utterances"] == 24 and summary["faces"] == 16
    wavs = sorted(out.glob("wav/id*/*/*.wav"))
    jpgs = sorted(out.glob("faces/*/*.jpg"))
    assert len(wavs) == 24 and len(jpgs) == 16
    for wav in wavs[:6]:
        info = soundfile.info(wav)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert len(wav.parent.name) == 11 and len(wav.stem) == 5  # YouTube id / 00001
    for jpg in jpgs[:4]:
        with Image.open(jpg) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (128, 128))


def test_meta_file_is_voxceleb1_format(small_corpus):
    out, _ = small_corpus
    lines = (out / "vox1_meta.csv").read_text().splitlines()
    assert lines[0] == "VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet"
    rows = list(csv.reader(lines[1:], delimiter="\t"))
    assert [r[0] for r in rows] == [f"id{10001 + i}" for i in range(8)]
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    for vox_id, name, gender, nationality, split in rows:
        assert gender in ("m", "f") and nationality and split == "dev"
        first, last = name.split("_")
        assert first.istitle() and last.istitle()
        assert (out / "wav" / vox_id).is_dir() and (out / "faces" / name).is_dir()


def test_attribute_file_beside_the_meta(small_corpus):
    """attributes.csv: one row per identity of the meta file, in its order, with the drawn attributes."""
    out, summary = small_corpus
    assert summary["attributes"] == str(out / attributes.FILE)
    table = attributes.read(out / attributes.FILE)
    meta = [line.split("\t")[1] for line in (out / "vox1_meta.csv").read_text().splitlines()[1:]]
    assert list(table) == meta
    for person in identities.sample_identities(8, seed=5):
        assert table[person.name]["attributes"] == attributes.labels(person)
        assert table[person.name]["voice"]["community"] == person.community


def test_same_seed_same_bytes_other_seed_differs(small_corpus, tmp_path):
    out, _ = small_corpus
    again = tmp_path / "again"
    corpus.generate(again, identities=8, utterances=3, faces=2, seed=5, workers=2)  # process pool
    assert _digest(again) == _digest(out)
    other = tmp_path / "other"
    corpus.generate(other, identities=8, utterances=3, faces=2, seed=6, workers=1)
    assert (other / "vox1_meta.csv").read_bytes() != (out / "vox1_meta.csv").read_bytes()


def test_utterances_have_enough_voiced_speech_for_small(small_corpus):
    out, _ = small_corpus
    for wav in sorted(out.glob("wav/*/*/*.wav")):
        samples, rate = soundfile.read(wav, dtype="int16")
        speech = voiced(samples)
        frames = len(speech) // 160 + 1
        assert 330 <= frames <= 900, (wav, frames)  # >= small preset's 300-frame minimum
        assert (
            len(samples) - len(speech) >= 0.3 * rate
        )  # leading/trailing silence and pauses removed


def test_names_split_about_a_quarter_held_out_and_genders_mixed():
    people = identities.sample_identities(48, seed=0)
    held = [p for p in people if p.name[0] in "ABCDE"]
    assert len(held) == 12
    assert len({p.name for p in people}) == 48
    assert len({p.name[0] for p in people}) >= 12  # names spread over the alphabet
    assert 18 <= sum(p.gender == "f" for p in people) <= 30
    assert sum(p.gender == "f" for p in held) >= 2


def test_voice_and_face_share_latents():
    people = identities.sample_identities(200, seed=1)
    male = np.array([p.gender == "m" for p in people])
    f0 = np.array([p.voice.f0 for p in people])
    vtl = np.array([p.voice.vocal_tract_cm for p in people])
    width = np.array([p.face.face_width for p in people])
    assert f0[male].max() < f0[~male].min() + 20 and np.median(f0[~male]) > 1.5 * np.median(
        f0[male]
    )
    assert vtl[male].mean() - vtl[~male].mean() > 2.0
    assert np.corrcoef(vtl, width)[0, 1] > 0.9
    assert all(p.face.hair_length > 0.5 and p.face.beard == 0 for p in people if p.gender == "f")
    assert all(p.face.hair_length < 0.35 for p in people if p.gender == "m")


def test_community_links_accent_to_skin_and_hair_tone():
    people = identities.sample_identities(300, seed=2)
    community = np.array([p.community for p in people])
    assert sorted(np.unique(community)) == [0, 1, 2] and min(np.bincount(community)) > 60
    skin = np.array([np.mean(p.face.skin) for p in people])
    f1 = np.array([p.voice.formant_offsets[0] for p in people])
    f2 = np.array([p.voice.formant_offsets[1] for p in people])
    assert skin[community == 0].mean() - skin[community == 2].mean() > 40  # lighter vs darker tones
    assert f1[community == 0].mean() - f1[community == 1].mean() > 0.08  # accent: F1 up, F2 down
    assert f2[community == 1].mean() - f2[community == 0].mean() > 0.08
    # overlapping, not deterministic: each community spans several skin tones
    assert all(len(np.unique(np.round(skin[community == c], -1))) >= 3 for c in range(3))


def test_clothing_changes_per_photo_and_is_no_identity_cue(small_corpus):
    """The shirt (bottom centre of every photo) differs between two photos of one identity as much as
    between identities: clothing must not let a face judge tell identities apart (VGGFace has none)."""
    out, _ = small_corpus
    people = sorted((out / "faces").iterdir())
    shirts = {
        person.name: [
            np.asarray(Image.open(p).convert("RGB"), float)[120:126, 56:72].mean((0, 1))
            for p in sorted(person.glob("*.jpg"))
        ]
        for person in people
    }
    within = np.mean([np.abs(a - b).sum() for a, b in shirts.values()])
    between = np.mean(
        [
            np.abs(shirts[a.name][0] - shirts[b.name][0]).sum()
            for a, b in zip(people, people[1:], strict=False)
        ]
    )
    assert within > 60 and within > 0.5 * between


def _f0(wave, rate=16000):
    """Median autocorrelation pitch over voiced 40 ms frames."""
    estimates = []
    for start in range(0, len(wave) - 640, 640):
        frame = wave[start : start + 640] - wave[start : start + 640].mean()
        if np.sqrt(np.mean(frame**2)) < 0.05 * np.abs(wave).max():
            continue
        ac = np.correlate(frame, frame, "full")[639:]
        lo, hi = rate // 400, rate // 60
        estimates.append(rate / (lo + np.argmax(ac[lo:hi])))
    return np.median(estimates)


def test_pitch_is_audible():
    rng = np.random.default_rng(0)
    for f0 in (110.0, 220.0):
        wave = synthesize(VoiceTraits(f0=f0, jitter=0.0), Recording(seconds=2.0, snr_db=40.0), rng)
        assert wave.dtype == np.float32 and np.abs(wave).max() <= 1.0
        assert abs(_f0(wave) / f0 - 1) < 0.15


def test_refuses_non_empty_output(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(S2FError):
        corpus.generate(tmp_path / "x", identities=2, utterances=1, faces=1, workers=1)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_cli(tmp_path, capsys):
    argv = ["synth", "--out", str(tmp_path / "c"), "--identities", "2", "--utterances", "1"]
    assert cli.main([*argv, "--faces", "1", "--workers", "1"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["identities"] == 2 and summary["utterances"] == 2 and summary["faces"] == 2
    assert cli.main(["synth", "--out", str(tmp_path / "d"), "--identities", "0"]) == 2
    assert capsys.readouterr().err == (
        "s2f synth: error: argument --identities: must be at least 1, got 0 (see s2f synth --help)\n"
    )


def test_voxceleb_lengths_follow_the_stated_distribution():
    """4 s + exp(N(ln 3.05, 0.8)) clipped to [4, 30] s of VAD'd speech: mean 8.17, median 7.05, ~37 %
    at least 800 frames (7.99 s), ~2 % above 20 s; the synthesiser's target inverts the VAD relation."""
    rng = np.random.default_rng(0)
    speech = np.array([corpus.speech_seconds(rng, "voxceleb") for _ in range(20000)])
    vad = speech * corpus.VAD_SLOPE + corpus.VAD_OFFSET_S
    assert vad.min() >= 4.0 - 1e-9 and vad.max() <= 30.0 + 1e-9
    assert vad.mean() == pytest.approx(8.17, abs=0.1)
    assert np.median(vad) == pytest.approx(7.05, abs=0.1)
    assert np.mean(vad >= 7.99) == pytest.approx(0.37, abs=0.02)
    assert np.mean(vad > 20) == pytest.approx(0.019, abs=0.005)
    short = np.array([corpus.speech_seconds(rng, "short") for _ in range(1000)])
    assert short.min() >= 4.5 and short.max() <= 7.5
    with pytest.raises(S2FError, match="--lengths must be one of short, voxceleb"):
        corpus.speech_seconds(rng, "long")


def test_voxceleb_lengths_after_prepare(tmp_path, capsys):
    """6 identities x 4 utterances with VoxCeleb-like lengths through `s2f prepare` (every utterance kept):
    the VAD'd lengths prepare measures have the stated mean (8.2 s; +-1.6 s = 2 standard errors of 24) and
    share reaching wen2019's 800-frame minimum (0.37; binomial +-0.2), none below ~4 s."""
    from s2f_tf.config import preset
    from s2f_tf.data.info import load_info

    argv = ["synth", "--out", tmp_path / "c", "--identities", 6, "--utterances", 4, "--faces", 1]
    assert cli.main([str(a) for a in [*argv, "--lengths", "voxceleb", "--workers", 1]]) == 0
    synth = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert synth["lengths"] == "voxceleb" and synth["utterances"] == 24
    assert synth["cpu"]["voices_s"] > 0 and synth["cpu"]["faces_ms_each"] > 0
    argv = [
        "prepare", "--meta", tmp_path / "c/vox1_meta.csv", "--voices", tmp_path / "c/wav",
        "--faces", tmp_path / "c/faces", "--out", tmp_path / "data", "--min-frames", 100,
        "--workers", 1,
    ]  # fmt: skip
    assert cli.main([str(a) for a in argv]) == 0
    capsys.readouterr()
    info = load_info(tmp_path / "data")
    frames = np.concatenate([np.asarray(e["voice_frames"]) for e in info.splits.values()])
    assert len(frames) == 24
    minimum = preset("wen2019").audio.min_utterance_frames
    assert minimum == 800
    assert 0.17 <= np.mean(frames >= minimum) <= 0.57
    assert abs(frames.mean() / 100 - 8.2) <= 1.6
    assert frames.min() >= 380


def test_identities_at_voxceleb1_scale():
    """1,251 identities (VoxCeleb1): unique names, ids id10001..id11251 in name order, the reference
    split holds (~301/1225 held out, divided ~112:189 into val and test); beyond the name pool: an error."""
    from s2f_tf.data.splits import letter_splits

    people = identities.sample_identities(1251, seed=0)
    assert [p.voxceleb_id for p in people] == [f"id{10001 + i}" for i in range(1251)]
    names = [p.name for p in people]
    assert len(set(names)) == 1251 and names == sorted(names)
    held = sum(n[0] in "ABCDE" for n in names)
    assert held == round(1251 * 301 / 1225)
    splits = letter_splits(names)
    counts = {s: sum(v == s for v in splits.values()) for s in ("train", "val", "test")}
    assert counts == {"train": 1251 - held, "val": round(held * 112 / 301), "test": held - 114}
    assert 0.4 <= np.mean([p.gender == "f" for p in people]) <= 0.5
    with pytest.raises(S2FError, match="at most 3855"):
        identities.sample_identities(identities.max_identities() + 1)


def test_meta_file_at_scale_reads_back(tmp_path):
    from s2f_tf.data.splits import read_meta

    people = identities.sample_identities(1251, seed=3)
    identities.write_meta(tmp_path / "vox1_meta.csv", people)
    rows, skipped = read_meta(tmp_path / "vox1_meta.csv")
    assert len(rows) == 1251 and not skipped
    assert [r["name"] for r in rows] == [p.name for p in people]


def _children(pid):
    """The pids of a process's children (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid):
    """Running (a zombie waiting for its new parent to reap it counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_kill_9_of_synth_ends_its_workers_and_a_rerun_removes_its_leftovers(tmp_path):
    """Workers of a killed `s2f synth` stop at once rather than when their identity is done, and the
    next synth to the same --out removes the temporary folder the killed one left."""
    import os
    import signal
    import time

    from conftest import s2f_process, s2f_run

    out = tmp_path / "corpus"
    slow = ["--identities", "8", "--utterances", "300", "--faces", "1", "--lengths", "voxceleb"]
    process = s2f_process("synth", "--out", out, *slow, "--workers", "2")
    workers = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list(tmp_path.glob(".corpus.*.tmp/wav/*/*/*.wav")):
            assert process.poll() is None, process.communicate()
            time.sleep(0.1)
        workers = _children(process.pid)
        assert len(workers) >= 2, workers  # the two workers (and multiprocessing's tracker)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)  # not communicate(): the workers may hold its pipes open
        deadline = time.time() + 5
        while time.time() < deadline and any(map(_alive, workers)):
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        process.kill()
        process.stdout.close()
        process.stderr.close()
        for pid in filter(_alive, workers):  # what a failure would leave running
            os.kill(pid, signal.SIGKILL)
    (left,) = tmp_path.glob(".corpus.*.tmp")
    run = s2f_run("synth", "--out", out, "--identities", "2", "--utterances", "1", "--faces", "1")
    assert run.status == 0, run.err
    assert not left.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]
