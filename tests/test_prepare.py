"""s2f_tf.data.prepare: joins, splits, labels, bad inputs, atomic/resumable shards, the CLI."""

import io
import json
import shutil

import numpy as np
import pytest
import soundfile
import soxr
import tensorflow as tf
from conftest import prepare_options
from PIL import Image

from s2f_tf import cli
from s2f_tf.data import decode, records, shards, splits
from s2f_tf.data import prepare as prep
from s2f_tf.errors import S2FError
from s2f_tf.synth import corpus


@pytest.fixture(scope="module")
def base_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("prep") / "corpus"
    corpus.generate(out, identities=8, utterances=3, faces=2, seed=11, workers=1)
    return out


def _meta_rows(root):
    lines = (root / "vox1_meta.csv").read_text().splitlines()[1:]
    return [line.split("\t") for line in lines]


def _read(path, kind, size=64):
    parse = records.parse_voice if kind == "voices" else lambda s: records.parse_face(s, size)
    return [
        {k: v.numpy() for k, v in parse(s).items()} for s in tf.data.TFRecordDataset([str(path)])
    ]


def _all_records(out, split, kind):
    info = json.loads((out / "dataset.json").read_text())
    key = "voice_shards" if kind == "voices" else "face_shards"
    return [r for shard in info["splits"][split][key] for r in _read(out / shard, kind)]


def test_letter_split_rule():
    held = [f"A{i:03d}_X" for i in range(150)] + [f"E{i:03d}_X" for i in range(151)]
    split = splits.letter_splits(held + [f"{c}{i}_Y" for c in "FGZ" for i in range(300)])
    assert sum(v == "val" for v in split.values()) == 112  # the reference's 112 : 189
    assert sum(v == "test" for v in split.values()) == 189
    assert sum(v == "train" for v in split.values()) == 900
    assert splits.letter_splits(list(reversed(list(split)))) == split  # order-independent
    odd = splits.letter_splits(["Fred_Y", "zoe_Z", "élodie_Q", "Élise_R", "3Doors_S", "Bob_T"])
    assert odd["Fred_Y"] == odd["zoe_Z"] == "train"
    assert {odd[n] for n in ("élodie_Q", "Élise_R", "3Doors_S", "Bob_T")} <= {"val", "test"}
    assert [splits.first_letter(n) for n in ("élodie", "Ørjan", "3Doors", "_")] == [
        "E",
        "Ø",
        "D",
        "",
    ]


def test_read_meta_header_bad_and_duplicate_rows(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text(
        "\ufeffVoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet\n"
        "id10001\tA.J._Buckley\tm\tIreland\tdev\n"
        "id10002 \t A.R._Rahman\tM\tIndia\tdev\n"
        "garbage line\n"
        "id10003\tSomeone\tx\tUK\tdev\n"
        "id10001\tDup_Name\tf\tUK\tdev\n"
        "\n"
    )
    rows, skipped = splits.read_meta(path)
    assert [(r["id"], r["name"], r["gender"]) for r in rows] == [
        ("id10001", "A.J._Buckley", "m"),
        ("id10002", "A.R._Rahman", "m"),
    ]
    assert dict(skipped) == {"bad_meta_row": 2, "duplicate_meta_row": 1}
    path.write_text("nothing useful\n")
    with pytest.raises(S2FError):
        splits.read_meta(path)


def _inject_bad_inputs(root):
    """Add every kind of bad input prepare must skip to the first training identity; returns (vox id, name)."""
    rows = _meta_rows(root)
    vox_id, name = next((r[0], r[1]) for r in rows if r[1][0] not in "ABCDE")
    good = sorted((root / "wav" / vox_id).rglob("*.wav"))[0]
    wave, rate = soundfile.read(good, dtype="float32")
    d = root / "wav" / vox_id / "badvideo001"
    d.mkdir()
    raw = good.read_bytes()
    (d / "truncated.wav").write_bytes(raw[: len(raw) * 3 // 4])  # data cut: decoded, converted
    (d / "header_only.wav").write_bytes(raw[:30])
    (d / "text.wav").write_text("not a wav file\n")
    soundfile.write(d / "rate8k.wav", soxr.resample(wave, rate, 8000), 8000, subtype="PCM_16")
    soundfile.write(d / "rate44k.wav", soxr.resample(wave, rate, 44100), 44100, subtype="PCM_16")
    soundfile.write(d / "stereo.wav", np.stack([wave, wave * 0.5], 1), rate, subtype="PCM_16")
    soundfile.write(d / "pcm24.wav", wave, rate, subtype="PCM_24")
    soundfile.write(d / "float.flac" if False else d / "float.wav", wave, rate, subtype="FLOAT")
    soundfile.write(d / "silence.wav", np.zeros(3 * rate, np.int16), rate, subtype="PCM_16")
    soundfile.write(d / "short.wav", wave[:300], rate, subtype="PCM_16")  # < 25 ms
    nan = wave.copy()
    nan[1000] = np.nan
    soundfile.write(d / "nan.wav", nan, rate, subtype="FLOAT")

    f = root / "faces" / name
    jpeg = sorted(f.glob("*.jpg"))[0]
    image = Image.open(jpeg).convert("RGB")
    (f / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 10)
    (f / "truncated.jpg").write_bytes(jpeg.read_bytes()[:300])
    image.convert("L").save(f / "gray.jpg")
    image.convert("CMYK").save(f / "cmyk.jpg")
    image.convert("P").save(f / "palette.png")
    image.resize((200, 120)).save(f / "wide.jpg")

    # A meta row whose folders do not exist, and an identity with voices but no faces.
    with open(root / "vox1_meta.csv", "a") as handle:
        handle.write("id19998\tGhost_Person\tm\tUSA\tdev\n")
        handle.write("id19999\tNoface_Person\tf\tUSA\tdev\n")
        handle.write("a broken row\n")
    shutil.copytree(root / "wav" / vox_id, root / "wav" / "id19999")
    return vox_id, name


def test_every_bad_input_is_skipped_and_counted_or_converted(base_corpus, tmp_path):
    root = tmp_path / "corpus"
    shutil.copytree(base_corpus, root)
    vox_id, name = _inject_bad_inputs(root)
    out = tmp_path / "prepared"
    summary = prep.prepare(prepare_options(root, out, min_frames=100))

    assert summary["skipped"]["identities"] == {
        "missing_folders": 1,
        "no_face_folder": 1,
        "bad_meta_row": 1,
    }
    assert summary["skipped"]["utterances"] == {
        "unreadable": 2,
        "no_speech": 1,
        "too_short": 1,
        "non_finite": 1,
    }
    assert summary["skipped"]["faces"] == {"unreadable_image": 2}
    kept = [
        r["utterance"].decode()
        for split in ("train", "train_heldout")
        for r in _all_records(out, split, "voices")
        if r["identity"].decode() == name
    ]
    converted = {"truncated", "rate8k", "rate44k", "stereo", "pcm24", "float"}
    assert {k.split("/")[-1][:-4] for k in kept if "badvideo001" in k} == converted
    assert len(kept) == 3 + len(converted)
    faces = {
        r["image_id"].decode().split("/")[-1]: r
        for r in _all_records(out, "train", "faces")
        if r["identity"].decode() == name
    }
    assert set(faces) >= {"gray.jpg", "cmyk.jpg", "palette.png", "wide.jpg"}
    assert len(faces) == 2 + 4
    gray = faces["gray.jpg"]["image"].astype(int)
    assert gray.shape == (64, 64, 3) and np.abs(gray[..., 0] - gray[..., 1]).max() <= 2
    info = json.loads((out / "dataset.json").read_text())
    assert "Noface_Person" not in info["identities"] and "Ghost_Person" not in info["identities"]
    assert not list(out.rglob("*.tmp"))


def test_splits_labels_and_heldout_utterances(base_corpus, tmp_path):
    out = tmp_path / "prepared"
    summary = prep.prepare(prepare_options(base_corpus, out))
    info = json.loads((out / "dataset.json").read_text())
    rows = {r[1]: r for r in _meta_rows(base_corpus)}
    train = info["splits"]["train"]
    assert train["names"] == sorted(n for n in rows if n[0] not in "ABCDE")
    assert info["num_classes"] == train["num_classes"] == len(train["names"])
    assert train["genders"] == [rows[n][2] for n in train["names"]]
    held = sorted(info["splits"]["val"]["names"] + info["splits"]["test"]["names"])
    assert held == sorted(n for n in rows if n[0] in "ABCDE")
    assert info["splits"]["train_heldout"]["names"] == train["names"]
    # 3 utterances per identity: exactly one held out per training identity.
    assert info["splits"]["train_heldout"]["voices_per_label"] == [1] * train["num_classes"]
    assert train["voices_per_label"] == [2] * train["num_classes"]
    assert summary["utterances"]["train"] == 2 * train["num_classes"]
    assert summary["speech_seconds"]["train"] > 3.0 * summary["utterances"]["train"]
    assert len(train["voice_shards"]) == min(8, summary["utterances"]["train"])
    for r in _all_records(out, "train", "voices") + _all_records(out, "val", "voices"):
        split = "train" if r["identity"].decode() in train["names"] else "val"
        label_name = info["splits"][split]["names"][r["label"]]
        assert label_name == r["identity"].decode()
        assert r["utterance"].decode().startswith(rows[label_name][0] + "/")
        assert r["samples"].dtype == np.int16 and r["num_samples"] == r["samples"].size
        assert r["num_samples"] // 160 + 1 >= 300
    utterances = {r["utterance"] for r in _all_records(out, "train", "voices")}
    assert not utterances & {r["utterance"] for r in _all_records(out, "train_heldout", "voices")}


def test_gender_and_split_file(base_corpus, tmp_path):
    summary = prep.prepare(prepare_options(base_corpus, tmp_path / "f", gender="f"))
    info = json.loads((tmp_path / "f" / "dataset.json").read_text())
    assert set(info["splits"]["train"]["genders"]) == {"f"}
    assert summary["filtered_identities"]["other_gender"] == sum(
        r[2] == "m" for r in _meta_rows(base_corpus)
    )
    names = [r[1] for r in _meta_rows(base_corpus)]
    split_file = tmp_path / "split.txt"
    split_file.write_text(f"{names[0]}\ttrain\n{names[1]} train\n{names[2]}\ttest\n# comment\n")
    prep.prepare(
        prepare_options(base_corpus, tmp_path / "s", split="file", split_file=str(split_file))
    )
    info = json.loads((tmp_path / "s" / "dataset.json").read_text())
    assert info["splits"]["train"]["names"] == sorted(names[:2])
    assert info["splits"]["test"]["names"] == [names[2]] and info["splits"]["val"]["names"] == []
    assert info["filtered_identities"] == {"not_in_split_file": len(names) - 3}


def test_shards_are_atomic_and_a_rerun_resumes(base_corpus, tmp_path, monkeypatch):
    out = tmp_path / "prepared"
    calls = []
    real = decode.process_shard

    def crash_on_third(shard, *args):
        calls.append(shard["path"])
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real(shard, *args)

    monkeypatch.setattr(shards, "process_shard", crash_on_third)
    with pytest.raises(RuntimeError):
        prep.prepare(prepare_options(base_corpus, out))
    monkeypatch.setattr(shards, "process_shard", real)
    assert len(list(out.glob("*/*.tfrecord"))) == 2 and not (out / "dataset.json").exists()

    first = prep.prepare(prepare_options(base_corpus, out, workers=2))  # the process pool path
    total = first["shards"]["written"] + first["shards"]["reused"]
    assert first["shards"]["reused"] == 2
    snapshot = {p.name: p.read_bytes() for p in out.glob("*/*.tfrecord")}
    dataset = (out / "dataset.json").read_text()

    victim = sorted(out.glob("voices/train-*.tfrecord"))[0]
    victim.unlink()
    leftover = victim.with_name(f".{victim.name}.12345.tmp")
    leftover.write_bytes(b"half a shard")
    again = prep.prepare(prepare_options(base_corpus, out))
    assert again["shards"] == {"written": 1, "reused": total - 1}
    assert not leftover.exists()
    assert {p.name: p.read_bytes() for p in out.glob("*/*.tfrecord")} == snapshot
    assert json.loads((out / "dataset.json").read_text()) == json.loads(dataset)

    with pytest.raises(S2FError, match="other inputs or options"):
        prep.prepare(prepare_options(base_corpus, out, min_frames=200))


def test_cli_prepare_and_errors(base_corpus, tmp_path, capsys):
    argv = ["prepare", "--meta", str(base_corpus / "vox1_meta.csv"), "--voices"]
    argv += [str(base_corpus / "wav"), "--faces", str(base_corpus / "faces")]
    assert cli.main([*argv, "--out", str(tmp_path / "p"), "--workers", "1"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (
        summary["identities"]["train"]
        + summary["identities"]["val"]
        + summary["identities"]["test"]
        == 8
    )
    assert set(summary) >= {"skipped", "speech_seconds", "elapsed_s", "utterances_per_s"}
    bad = ["prepare", "--meta", str(tmp_path / "none.csv"), "--voices", str(base_corpus / "wav")]
    assert cli.main([*bad, "--faces", str(base_corpus), "--out", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("s2f prepare: error:") and err.count("\n") == 1


def test_attributes_are_carried_when_the_corpus_has_them(base_corpus, tmp_path):
    """The synthetic corpus's attributes.csv beside the meta file goes into dataset.json's identities;
    the same meta file without it (the real layout) prepares as before; a damaged one is refused."""
    import dataclasses

    from s2f_tf.synth import attributes

    summary = prep.prepare(prepare_options(base_corpus, tmp_path / "with"))
    info = json.loads((tmp_path / "with" / "dataset.json").read_text())
    table = attributes.read(base_corpus / attributes.FILE)
    assert summary["identities_with_attributes"] == 8 == len(info["identities"])
    for name, person in info["identities"].items():
        assert person["attributes"] == table[name]["attributes"]
        assert person["voice"] == table[name]["voice"]

    real = tmp_path / "real"
    real.mkdir()
    shutil.copy(base_corpus / "vox1_meta.csv", real)
    alone = dataclasses.replace(
        prepare_options(base_corpus, tmp_path / "without"), meta=str(real / "vox1_meta.csv")
    )
    summary = prep.prepare(alone)
    info = json.loads((tmp_path / "without" / "dataset.json").read_text())
    assert summary["identities_with_attributes"] == 0
    assert all(
        set(p) == {"id", "gender", "nationality", "split"} for p in info["identities"].values()
    )

    lines = (base_corpus / attributes.FILE).read_text().splitlines()
    fields = lines[3].split("\t")
    lines[3] = "\t".join([fields[0], "x", *fields[2:]])  # the 3rd identity's gender
    (real / attributes.FILE).write_text("\n".join(lines) + "\n")
    damaged = dataclasses.replace(alone, out=str(tmp_path / "damaged"))
    with pytest.raises(S2FError, match=r"attributes.csv:4: gender 'x' is not one of f, m"):
        prep.prepare(damaged)


def test_load_face_modes(tmp_path):
    rgba = Image.new("RGBA", (100, 100), (255, 0, 0, 0))
    rgba.save(tmp_path / "a.png")
    pixels, reason = decode.load_face(tmp_path / "a.png", 64)
    assert reason == "" and pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8
    assert (pixels == 255).all()  # transparent -> white background
    buffer = io.BytesIO()
    Image.new("RGB", (128, 128), (10, 200, 30)).save(buffer, "JPEG")
    (tmp_path / "b.jpg").write_bytes(buffer.getvalue())
    pixels, _ = decode.load_face(tmp_path / "b.jpg", 64)
    assert np.abs(pixels.astype(int) - [10, 200, 30]).max() <= 3
    assert decode.load_face(tmp_path / "missing.jpg", 64) == (None, "unreadable_image")


def test_an_identity_without_one_usable_recording_leaves_valid_empty_shards(
    base_corpus, tmp_path, s2f
):
    """One training identity's recordings all unreadable (cut short, text, silence) and another with a
    voice but no face: prepare skips and counts them; a shard left with no record is a valid, empty
    shard with a valid, empty index, and training reads the dataset."""
    from s2f_tf.config import preset
    from s2f_tf.data.crop_reader import CropReader
    from s2f_tf.data.info import load_info

    root = tmp_path / "corpus"
    shutil.copytree(base_corpus, root)
    rows = _meta_rows(root)
    vox_id = next(r[0] for r in rows if r[1][0] not in "ABCDE")
    broken = sorted((root / "wav" / vox_id).rglob("*.wav"))
    assert len(broken) == 3
    broken[0].write_bytes(broken[0].read_bytes()[:2000])
    broken[1].write_text("not audio\n")
    soundfile.write(broken[2], np.zeros(48000, np.int16), 16000, subtype="PCM_16")
    shutil.copytree(root / "wav" / rows[-1][0], root / "wav" / "id19998")
    with open(root / "vox1_meta.csv", "a") as meta:
        meta.write("id19998\tXena_Voiceonly\tf\tUK\tdev\n")
    out = tmp_path / "prepared"
    # One utterance per shard: the broken identity's shards are certainly left empty.
    summary = prep.prepare(prepare_options(root, out, min_frames=40, voices_per_shard=1))
    assert summary["skipped"]["identities"] == {"no_face_folder": 1}
    assert summary["skipped"]["utterances"] == {"no_speech": 1, "too_short": 1, "unreadable": 1}
    info = json.loads((out / "dataset.json").read_text())
    empty = [
        shard
        for split in ("train", "train_heldout")
        for shard, frames in zip(
            info["splits"][split]["voice_shards"],
            info["splits"][split]["voice_shard_frames"],
            strict=True,
        )
        if not frames
    ]
    assert len(empty) == 3
    for shard in empty:
        assert _read(out / shard, "voices") == []
        with np.load(shards.index_path(out / shard)) as index:
            assert index["offset"].shape == (0,) and index["mean"].shape == (0, 64)
    reader = CropReader(load_info(out), "train", preset("tiny").audio)
    assert len(reader) == summary["utterances"]["train"] == 2 * 5


def test_a_second_prepare_on_one_folder_is_refused_and_touches_nothing(base_corpus, tmp_path, s2f):
    """Two prepares on one --out would delete each other's temporary shards: the second is refused
    while the first holds OUT/.lock, and leaves the first one's files alone."""
    from s2f_tf.locks import exclusive

    out = tmp_path / "prepared"
    (out / "voices").mkdir(parents=True)
    partial = (
        out / "voices" / ".train-00000-of-00008.tfrecord.4242.tmp"
    )  # the first one's, in progress
    partial.write_bytes(b"half a shard")
    argv = ["prepare", "--meta", base_corpus / "vox1_meta.csv", "--voices", base_corpus / "wav"]
    argv += ["--faces", base_corpus / "faces", "--out", out, "--workers", "1", "--min-frames", "40"]
    with exclusive(out / ".lock", "prepare"):
        run = s2f(*argv)
    assert (run.status, run.out) == (2, "")
    assert run.err.startswith(
        f"s2f prepare: error: dataset directory {out} is in use by s2f prepare (pid "
    ) and run.err.endswith("; wait for it to finish (or use another directory)\n")
    assert partial.read_bytes() == b"half a shard" and not (out / "dataset.json").exists()
    assert sorted(p.name for p in out.rglob("*")) == [".lock", partial.name, "voices"]
