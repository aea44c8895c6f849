"""s2f_tf.evaluate end to end: judges on constructed faces with known answers, figures, the report, and
`s2f evaluate` on a tiny synthetic dataset trained for a few steps by `s2f pretrain-voice` / `s2f train`."""

import dataclasses
import json
import re

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from s2f_tf import cli
from s2f_tf.config import preset
from s2f_tf.evaluate import evaluation, figures, generation, report, scores, sources
from s2f_tf.evaluate import judges as judges_module
from s2f_tf.synth import attributes


class FakeSource:
    """Four identities whose faces are flat colours plus noise (trivially separable), two per gender."""

    COLORS = np.array([[230, 30, 30], [30, 230, 30], [30, 30, 230], [230, 230, 30]])

    def __init__(self, per_identity=10, seed=0):
        rng = np.random.default_rng(seed)
        labels = np.repeat(np.arange(4), per_identity)
        noise = rng.integers(-20, 21, size=(len(labels), 64, 64, 3))
        self.images = np.clip(self.COLORS[labels][:, None, None, :] + noise, 0, 255).astype(
            np.uint8
        )
        self.labels = labels.astype(np.int32)
        self.genders = np.array(["f", "m", "f", "m"])

    def info(self):
        train = {
            "num_classes": 4,
            "names": ["F_a", "G_b", "H_c", "I_d"],
            "genders": list(self.genders),
        }
        return {"splits": {"train": train, "train_heldout": train}}

    def faces(self, split):
        return self.images, self.labels, self.genders[self.labels]


@pytest.fixture(scope="module")
def judged():
    source = FakeSource()
    options = evaluation.EvalOptions(classifier_steps=40, classifier_batch=16, heldout_fraction=0.3)
    judges = judges_module.train_judges(source, source.info(), preset("tiny").model, options)
    return source, judges, options


def _generated(faces, labels, genders):
    return generation.Generated(
        faces, np.asarray(labels), np.asarray(genders), list(range(len(labels)))
    )


def test_judges_learn_real_faces(judged):
    _, judges, _ = judged
    summary = judges.summary
    assert summary["train_faces"] == 28 and summary["heldout_faces"] == 12
    assert summary["identity"]["heldout_real_top1"]["value"] == 1.0
    assert summary["identity"]["heldout_real_top1"]["chance"] == 0.25
    assert summary["gender"]["heldout_real_accuracy"]["value"] == 1.0


def test_perfect_generator_scores_100_and_swapped_scores_0(judged):
    _, judges, options = judged
    held = judges.heldout
    perfect = _generated(held.images, held.labels, held.genders)
    result = scores.split_metrics(perfect, held, judges, True, options, extractor=None)
    assert result["samples"] == 12 and result["identities"] == 4
    for key in ("identity_top1", "gender_agreement", "matching", "recall@1"):
        assert result[key]["value"] == 1.0, key
    assert result["identity_top5"]["chance"] == 1.0  # top-5 of 4 classes
    assert result["recall@1"]["chance"] == 0.25 and result["gallery_size"] == 4
    assert result["l1_pixels"]["value"] < 25  # same colour, independent noise (mean |diff| ~ 13.6)
    assert result["cosine_same_identity"]["value"] > result["cosine_other_identities"]["value"]
    assert set(result["by_gender"]) == {"f", "m"}
    assert result["by_gender"]["f"]["identity_top1"]["n"] == 6
    spectrum = result["spectral_top_octave_ratio"]  # the same faces: the same fine detail
    assert spectrum["value"] == pytest.approx(1.0, abs=1e-12)
    assert (spectrum["n_real"], spectrum["n_fake"]) == (12, 12)
    # The same faces: no Frechet distance in the judge's space; KID there (an unbiased estimate, below 0
    # for the same 12 faces on both sides) below that of flat grey faces, which is positive.
    assert result["fd_face_embedding"]["value"] == pytest.approx(0.0, abs=1e-3)  # sqrtm round-off
    kid_same = result["kid_face_embedding"]["value"]
    grey = _generated(np.full_like(held.images, 128), held.labels, held.genders)
    far = scores.split_metrics(grey, held, judges, True, options, extractor=None)
    assert far["kid_face_embedding"]["value"] > max(kid_same, 0.0)
    assert far["fd_face_embedding"]["value"] > 0.1

    swapped_labels = (held.labels + 1) % 4  # every voice yields the next identity's face
    swapped = _generated(held.images, swapped_labels, judges.heldout.genders[::-1])
    result = scores.split_metrics(swapped, held, judges, True, options, extractor=None)
    assert result["identity_top1"]["value"] == 0.0
    assert result["recall@1"]["value"] == 0.0
    assert result["matching"]["value"] < 0.5

    # A pluggable FID feature extractor: mean colour per image.
    mean_colour = lambda images: images.reshape(len(images), -1, 3).mean(axis=1)  # noqa: E731
    result = scores.split_metrics(perfect, held, judges, True, options, mean_colour)
    assert result["fid"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert np.isfinite(result["kid"]["value"]) and result["kid"]["std_over_subsets"] >= 0


# === Judging at the dataset's size ===


def test_resize_faces_averages_blocks_down_and_interpolates_up():
    rng = np.random.default_rng(0)
    blocks = rng.uniform(-1, 1, size=(2, 64, 64, 3)).astype(np.float32)
    doubled = blocks.repeat(2, axis=1).repeat(2, axis=2)  # 128 px of constant 2 x 2 blocks
    np.testing.assert_allclose(generation.resize_faces(doubled, 64), blocks, atol=1e-6)
    checker = np.where(np.add.outer(np.arange(128), np.arange(128)) % 2 == 0, 1.0, -1.0)
    checker = np.broadcast_to(checker[None, :, :, None], (1, 128, 128, 3))
    np.testing.assert_allclose(generation.resize_faces(checker, 64), 0.0, atol=1e-6)  # box-averaged
    ramp = np.broadcast_to(np.arange(64, dtype=np.float32)[None, None, :, None], (1, 64, 64, 3))
    up = generation.resize_faces(ramp, 128)
    assert up.shape == (1, 128, 128, 3)  # bilinear, half-pixel centres: x = j / 2 - 1/4, clamped
    np.testing.assert_allclose(up[0, 5, :, 1], np.clip(np.arange(128) / 2 - 0.25, 0, 63), atol=1e-5)
    np.testing.assert_array_equal(generation.resize_faces(blocks, 64), blocks)


def test_a_128_px_generator_is_judged_at_the_datasets_64_px(judged, monkeypatch, tmp_path):
    """A stand-in generator drawing each held-out real face at 128 px (every pixel doubled) is judged on
    64 px faces: area averaging gives the judges exactly the real faces back, so it scores 100 %; the
    64 px baseline is judged as drawn."""
    from s2f_tf import workdir as wd
    from s2f_tf.images import to_unit_range

    source, judges, options = judged
    held = judges.heldout
    real = to_unit_range(held.images)

    def draw_128(embeddings, training=False):  # embedding = index of the held-out face
        return real[np.asarray(embeddings)[:, 0].astype(int)].repeat(2, axis=1).repeat(2, axis=2)

    def draw_grey_64(embeddings, training=False):
        return np.zeros((len(embeddings), 64, 64, 3), np.float32)

    voices = generation.Embedded(
        np.arange(len(held.labels), dtype=np.float32)[:, None],
        held.labels,
        held.genders,
        [f"u{i}" for i in range(len(held.labels))],
    )
    monkeypatch.setattr(wd, "load_inference_models", lambda w: (preset("tiny"), None, draw_128))
    monkeypatch.setattr(evaluation, "embed_voices", lambda *args: voices)
    monkeypatch.setattr(evaluation, "untrained_generator", lambda *args: draw_grey_64)
    judged_images = []

    def spy(generated, *args):
        judged_images.append(generated.images)
        return scores.split_metrics(generated, *args)

    monkeypatch.setattr(evaluation, "split_metrics", spy)
    seen_only = dataclasses.replace(options, splits=("train_heldout",))
    model = evaluation.evaluate_model(
        tmp_path, source, source.info(), judges, seen_only, None, out=tmp_path, name="hq"
    )
    assert (model["image_size"], model["judged_at"]) == (128, 64)
    trained_faces, untrained_faces = judged_images
    assert trained_faces.shape == untrained_faces.shape == (12, 64, 64, 3)
    np.testing.assert_array_equal(trained_faces, held.images)
    trained = model["splits"]["train_heldout"]["trained"]
    assert trained["identity_top1"]["value"] == 1.0 and trained["matching"]["value"] == 1.0
    assert trained["spectral_top_octave_ratio"]["value"] == pytest.approx(1.0, abs=1e-12)
    assert np.all(untrained_faces == 128)
    untrained = model["splits"]["train_heldout"]["untrained"]
    assert untrained["spectral_top_octave_ratio"]["value"] == 0.0  # flat grey: no detail at all
    assert report.resized(model) == "128 px faces judged at 64 px"
    assert report.resized({**model, "image_size": 64}) == "" == report.resized({"name": "old"})


def test_judge_batches_are_shuffled_flipped_and_untuned():
    """The judges' input: every face once per epoch, flipped or not, in [-1, 1]; tf.data's autotuning is
    off (its thread could hold the iterator's teardown for ~40 s)."""
    from s2f_tf.evaluate.classifiers import _shuffled_faces

    images = np.stack([np.full((4, 4, 3), 10 * i, np.uint8) for i in range(6)])
    images[:, :, 0] = 255  # the left column marks the orientation
    dataset = _shuffled_faces(images, np.arange(6), batch_size=3, seed=0)
    assert dataset.options().autotune.enabled is False
    faces, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset.take(2)], strict=True)
    faces, labels = np.concatenate(faces), np.concatenate(labels)
    assert sorted(labels) == list(range(6))  # one epoch: each face once
    assert faces.min() >= -1.0 and faces.max() <= 1.0
    for face, label in zip(faces, labels, strict=True):
        body = np.isclose(face[:, 1:3], 10 * label / 127.5 - 1.0, atol=1e-6).all()
        left, right = np.isclose(face[:, 0], 1.0).all(), np.isclose(face[:, -1], 1.0).all()
        assert body and left != right  # the face itself, its marked column on one side


def test_holdout_split_keeps_one_face_per_identity_aside():
    labels = np.array([0, 0, 0, 0, 0, 1, 2, 2])
    train, held = judges_module.holdout_split(labels, 0.2, seed=0)
    assert sorted(np.concatenate([train, held])) == list(range(8))
    assert sorted(labels[held]) == [0, 2]  # identity 1 has one face: kept for training


def test_read_scalars_and_curves(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "train"))
    with writer.as_default():
        for step in range(5):
            tf.summary.scalar("loss/d_real", 1.0 / (step + 1), step=step)
            tf.summary.scalar("acc/d_real", step / 4, step=step)
        tf.summary.image("samples/grid", tf.zeros([1, 8, 8, 3]), step=0)
    writer.close()
    scalars = figures.read_scalars(tmp_path)
    assert list(scalars) == ["train"]
    assert set(scalars["train"]) == {"loss/d_real", "acc/d_real"}
    steps, values = scalars["train"]["loss/d_real"]
    np.testing.assert_array_equal(steps, np.arange(5))
    np.testing.assert_allclose(values, 1.0 / np.arange(1, 6), rtol=1e-6)
    image = figures.training_curves(scalars["train"], "train")
    assert image.size == (840, 260)  # two panels side by side


def test_face_grid_and_bar_chart():
    face = np.zeros((64, 64, 3), np.uint8)
    grid = figures.face_grid([("a", face, [face] * 3), ("b", None, [face])], title="t", scale=2)
    assert grid.size == (150 + 4 * (128 + 4), 36 + 2 * (128 + 4))
    white = np.full((64, 64, 3), 255, np.uint8)
    named = figures.face_grid(
        [("a", white, [white, None])], title="t", headers=["real", "model one", "model two"]
    )
    assert named.size == (150 + 3 * 132, 36 + 132)
    pixels = np.asarray(named)
    assert np.all(pixels[36:164, 150 + 132 : 150 + 260] == 255)  # a face, scaled x 2
    assert np.any(pixels[20:36, 150 + 264 : 150 + 392] < 128)  # a header above the third column
    assert pixels[36, 150 + 264].tolist() == [200, 200, 200]  # None: an empty frame
    chart = figures.bar_chart(
        {"x": {"f": {"value": 0.5, "ci95": [0.4, 0.6], "n": 3}, "m": {"value": 1.0, "n": 2}}},
        "t",
        reference={"x": 0.5},
    )
    assert chart.size == (560, 300)


def test_proof_of_learning_thresholds():
    def entry(value, chance=None):
        return {"value": value, "n": 10, **({"chance": chance} if chance else {})}

    model = {
        "splits": {
            "train_heldout": {
                "trained": {"identity_top1": entry(0.30, 0.05)},
                "untrained": {"identity_top1": entry(0.05, 0.05)},
            },
            "test": {
                "trained": {"gender_agreement": entry(0.80), "matching": entry(0.70)},
                "untrained": {"gender_agreement": entry(0.5), "matching": entry(0.5)},
            },
        }
    }
    checks = {c["criterion"]: c for c in report.proof_of_learning(model)}
    assert checks["identity top-1, seen identities"]["passed"] is True
    assert checks["identity top-1, seen identities"]["threshold"] == pytest.approx(0.25)
    assert checks["gender agreement, unseen identities"]["passed"] is False
    assert checks["1:2 matching, unseen identities"]["passed"] is True
    del model["splits"]["test"]
    assert report.proof_of_learning(model)[2]["passed"] is None


def _s2f(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out = capsys.readouterr().out.strip().splitlines()
    return status, (json.loads(out[-1]) if status == 0 else None)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """synth (16 identities) -> prepare -> pretrain-voice 4 steps -> train 4 steps, tiny preset."""
    root = tmp_path_factory.mktemp("run")
    argv = [
        ["synth", "--out", root / "corpus", "--identities", 16, "--utterances", 4, "--faces", 6, "--workers", 1],
        ["prepare", "--meta", root / "corpus/vox1_meta.csv", "--voices", root / "corpus/wav",
         "--faces", root / "corpus/faces", "--out", root / "data", "--min-frames", 40, "--workers", 1,
         "--heldout-fraction", 0.25],
        ["pretrain-voice", "--data", root / "data", "--workdir", root / "wd", "--preset", "tiny",
         "--steps", 4, "--strategy", "one_device", "--no-progress"],
        ["train", "--data", root / "data", "--workdir", root / "wd", "--steps", 4,
         "--strategy", "one_device", "--no-progress"],
    ]  # fmt: skip
    for args in argv:
        assert cli.main([str(a) for a in args]) == 0, args[0]
    return root


def test_s2f_evaluate_on_a_tiny_trained_run(trained_run, capsys):
    root = trained_run
    out = root / "eval"
    status, summary = _s2f(
        capsys, "evaluate", "--data", root / "data", "--workdir", root / "wd", "--out", out,
        "--classifier-steps", 20,
    )  # fmt: skip
    assert status == 0
    assert summary["out"] == str(out) and summary["fid_features"] in (None, "inception_v3")
    assert set(summary["splits"]) == {"train_heldout", "unseen"}  # unseen = val + test
    assert set(summary["splits"]["train_heldout"]) == {"trained", "untrained"}
    names = {p.name for p in out.iterdir()}
    assert {"metrics.json", "report.md", "by_gender.png", "curves_train.png"} <= names
    assert {
        f"grid_{s}_{k}.png" for s in ("train_heldout", "unseen") for k in ("trained", "untrained")
    } <= names
    assert Image.open(out / "grid_unseen_trained.png").size[0] == 150 + 4 * 132

    metrics = json.loads((out / "metrics.json").read_text())
    seen = metrics["model"]["splits"]["train_heldout"]["trained"]
    assert (
        seen["samples"] == 12 and seen["identities"] == 12
    )  # 4 utterances x 25 % held out x 12 ids
    assert seen["identity_top1"]["chance"] == pytest.approx(1 / 12)
    assert 0.0 <= seen["identity_top1"]["value"] <= 1.0 and seen["identity_top1"]["n"] == 12
    data = json.loads((root / "data" / "dataset.json").read_text())["splits"]
    n_val, n_test = data["val"]["num_classes"], data["test"]["num_classes"]
    assert n_val >= 1 and n_test == 3
    unseen = metrics["model"]["splits"]["unseen"]["trained"]
    assert unseen["identities"] == n_val + n_test and unseen["gallery_size"] == n_val + n_test
    assert unseen["samples"] == data["val"]["voices"] + data["test"]["voices"]
    assert unseen["recall@1"]["chance"] == pytest.approx(1 / (n_val + n_test))
    assert metrics["model"]["labels_match_data"] is True
    assert len(metrics["proof_of_learning"]) == 3
    text = (out / "report.md").read_text()
    assert "## Proof of learning" in text and "untrained generator" in text
    assert "| identity top-1 |" in text and "(n=12)" in text
    assert "| top-octave spectral power, generated / real |" in text
    assert unseen["spectral_top_octave_ratio"]["n_fake"] == unseen["samples"]
    assert unseen["spectral_top_octave_ratio"]["value"] > 0
    assert text.startswith("# wd: evaluation (tiny preset, ckpt-") and not re.search(
        r"(?i)\bissue\s*#?\d", text
    )

    # Face attributes (the synthetic corpus's labels): per split, one row per attribute; the oracle and
    # chance recomputed here from dataset.json, one sample per unseen utterance (all are judged).
    found = metrics["attributes"]
    assert found["labels"] is True and set(found["splits"]) == {"train_heldout", "unseen"}
    rows = found["splits"]["unseen"]
    assert set(rows) == {a.name for a in attributes.ATTRIBUTES}
    people = json.loads((root / "data" / "dataset.json").read_text())["identities"]
    names = data["val"]["names"] + data["test"]["names"]
    counts = data["val"]["voices_per_label"] + data["test"]["voices_per_label"]
    for attribute in attributes.ATTRIBUTES:
        row, name = rows[attribute.name], attribute.name
        truth = [people[n]["attributes"][name] for n in names]
        oracle = [attributes.most_probable(people[n]["voice"])[name] for n in names]
        right = np.array(truth) == np.array(oracle)
        assert row["oracle"] == pytest.approx(np.average(right, weights=counts)), name
        samples = np.repeat(truth, counts)
        assert row["chance"] == pytest.approx(max(np.mean(samples == v) for v in set(truth)))
        assert 0.0 <= row["generated"] <= 1.0 and row["n"] == unseen["samples"]
        assert row["voice_link"] == attribute.voice_link
        assert unseen["attributes"][name]["value"] == row["generated"]
    assert rows["gender"]["generated"] == unseen["gender_agreement"]["value"]
    assert rows["gender"]["oracle"] == 1.0 == rows["age_group"]["oracle"]
    assert summary["attributes"]["unseen"]["skin_tone"] == {
        "generated": rows["skin_tone"]["generated"],
        "oracle": rows["skin_tone"]["oracle"],
    }
    assert metrics["classifiers"]["attributes"]["skin_tone"]["heldout_real_accuracy"]["n"] > 0
    assert (
        "## Face attributes" in text
        and "| skin tone | yes |" in text
        and "| glasses | no |" in text
    )
    assert "| attribute | voice-linked | chance | real-face accuracy | oracle | generated |" in text

    # An earlier evaluation side by side (the seed's Table 2 layout), unseen and test splits.
    status, summary = _s2f(
        capsys, "evaluate", "--data", root / "data", "--workdir", root / "wd", "--out", root / "eval2",
        "--split", "unseen", "--split", "test", "--classifier-steps", 5, "--compare", out,
    )  # fmt: skip
    assert status == 0 and set(summary["splits"]) == {"unseen", "test"}
    test = json.loads((root / "eval2" / "metrics.json").read_text())["model"]["splits"]["test"]
    assert test["trained"]["identities"] == n_test
    text = (root / "eval2" / "report.md").read_text()
    assert (
        "## Comparison" in text and text.count("| wd (tiny") == 3 and "from `" in text
    )  # unseen: both; test: this one
    assert "| model | FID | HF power | L1 |" in text
    # Only an earlier evaluation compared, no work directory: no comparison picture.
    assert not list((root / "eval2").glob("compare_*.png"))


def test_evaluate_without_attribute_labels(trained_run, tmp_path, capsys):
    """A dataset whose identities carry no attribute labels (as VoxCeleb x VGGFace): every other metric as
    before, judges cached under a key made as before and without heads, and the report says why there
    is no attribute table."""
    import shutil

    from s2f_tf.evaluate import attributes as judged

    data = tmp_path / "data"
    shutil.copytree(trained_run / "data", data, ignore=shutil.ignore_patterns("judges"))
    info = json.loads((data / "dataset.json").read_text())
    for person in info["identities"].values():
        del person["attributes"], person["voice"]
    (data / "dataset.json").write_text(json.dumps(info))
    status, summary = _s2f(
        capsys, "evaluate", "--data", data, "--workdir", trained_run / "wd", "--out", tmp_path / "out",
        "--classifier-steps", 3, "--no-fid", "--max-utterances", 2, "--max-faces", 2,
    )  # fmt: skip
    assert status == 0 and summary["attributes"] is None
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["attributes"] == {"labels": False, "message": judged.NO_LABELS}
    for kinds in metrics["model"]["splits"].values():
        for values in kinds.values():
            assert "attributes" not in values and "gender_agreement" in values
    assert "attributes" not in metrics["classifiers"]
    text = (tmp_path / "out" / "report.md").read_text()
    assert f"## Face attributes\n\n{judged.NO_LABELS}" in text and "| attribute |" not in text
    entry = data / "judges" / metrics["classifiers"]["key"]
    assert not (entry / "attributes.npz").exists()
    assert "attributes" not in json.loads((entry / "judges.json").read_text())["made_of"]


def test_models_of_both_sizes_in_one_evaluation_and_the_comparison_picture(
    trained_run, tmp_path, monkeypatch
):
    """One evaluation on the 64 px dataset judges the trained model, a random 64 px work directory and a
    128 px stand-in (the random generator's faces, each pixel doubled) with the same judges: the 128 px
    faces are area-averaged back to the random model's exact faces, so every number is the same. It
    writes compare_unseen.png: one row per unseen identity, the real face, then each model's face."""
    import shutil
    from pathlib import Path

    from random_workdir import write_random_workdir

    from s2f_tf import workdir as wd

    random_wd = write_random_workdir(
        tmp_path / "random", preset("tiny"), seed=1, output_gain=1000.0
    )
    hq_wd = shutil.copytree(random_wd, tmp_path / "hq")
    load = wd.load_inference_models

    def load_with_128_px_stand_in(workdir):
        config, encoder, generator = load(workdir)
        if Path(workdir).name != "hq":
            return config, encoder, generator

        def draw_128(embeddings, training=False):
            faces = np.asarray(generator(embeddings, training=training))
            return faces.repeat(2, axis=1).repeat(2, axis=2)

        return config, encoder, draw_128

    monkeypatch.setattr(wd, "load_inference_models", load_with_128_px_stand_in)
    options = evaluation.EvalOptions(  # judges not cached: the cache is other tests' to fill
        splits=("unseen",),
        classifier_steps=4,
        max_utterances=2,
        max_faces=2,
        grid_identities=3,
        judge_cache=False,
    )
    out = tmp_path / "out"
    result = evaluation.evaluate(
        sources.PipelineSource(trained_run / "data"),
        trained_run / "wd",
        out,
        options,
        compare=[random_wd, hq_wd],
        extractor=None,
    )
    models = [result["model"], *result["compare"]]
    assert [m["name"] for m in models] == ["wd", "random", "hq"]
    assert [(m["image_size"], m["judged_at"]) for m in models] == [(64, 64), (64, 64), (128, 64)]
    assert models[2]["splits"] == models[1]["splits"]  # the same faces once judged at 64 px
    assert models[0]["splits"] != models[1]["splits"]
    ratio = models[1]["splits"]["unseen"]["trained"]["spectral_top_octave_ratio"]
    assert (
        ratio["value"] > 0
        and ratio["n_fake"] == models[1]["splits"]["unseen"]["trained"]["samples"]
    )

    assert (
        result["compare_figure"] == "compare_unseen.png"
        and "compare_unseen.png" in result["figures"]
    )
    picture = np.asarray(Image.open(out / "compare_unseen.png"))
    assert picture.shape == (
        36 + 3 * (128 + 4),
        150 + 4 * (128 + 4),
        3,
    )  # 3 identities; real + 3 models

    def tile(row, column):
        y, x = 36 + row * 132, 150 + column * 132
        return picture[y : y + 128, x : x + 128]

    for row in range(3):
        np.testing.assert_array_equal(tile(row, 3), tile(row, 2))  # hq = random, same utterance
        assert not np.array_equal(tile(row, 1), tile(row, 2))  # the trained model's own face
        assert tile(row, 0).std() > 0  # a real face
    text = (out / "report.md").read_text()
    assert "Side by side in `compare_unseen.png`" in text and "![compare_unseen.png]" in text
    assert text.count("| hq (tiny, 128 px faces judged at 64 px) |") == 1
    assert "| random (tiny) |" in text


def test_unseen_is_val_then_test_with_shifted_labels(trained_run):
    """The "unseen" pseudo-split: val's labels, then test's shifted past them; names and genders follow."""
    source = sources.PipelineSource(trained_run / "data")
    info = source.info()
    val, test, unseen = (info.splits[s] for s in ("val", "test", "unseen"))
    n_val = val["num_classes"]
    assert unseen["num_classes"] == n_val + test["num_classes"]
    assert unseen["names"] == list(val["names"]) + list(test["names"])
    assert unseen["genders"] == list(val["genders"]) + list(test["genders"])
    images, labels, genders = source.faces("unseen")
    val_images, val_labels, _ = source.faces("val")
    test_images, test_labels, _ = source.faces("test")
    np.testing.assert_array_equal(labels, np.concatenate([val_labels, test_labels + n_val]))
    np.testing.assert_array_equal(images, np.concatenate([val_images, test_images]))
    assert list(genders) == [unseen["genders"][i] for i in labels]
    items = list(source.voices("unseen", preset("tiny")))
    assert len(items) == val["voices"] + test["voices"]
    for item in items:
        label = int(item["voice_label"][0])
        name = item["identity"][0].numpy().decode()
        assert unseen["names"][label] == name


def test_s2f_evaluate_bad_input(tmp_path, capsys):
    assert cli.main(["evaluate", "--data", str(tmp_path), "--workdir", str(tmp_path / "no")]) == 2
    assert "no such work directory" in capsys.readouterr().err
    assert cli.main(["evaluate", "--data", str(tmp_path), "--workdir", str(tmp_path)]) == 2
    assert (
        cli.main(
            [
                "evaluate",
                "--data",
                str(tmp_path),
                "--workdir",
                str(tmp_path),
                "--classifier-steps",
                "0",
            ]
        )
        == 2
    )


# === Bounded evaluation: selections ===


def test_choose_draws_a_seeded_subset_per_label():
    keep = sources.choose([3, 5, 2], cap=3, seed=0)
    assert [list(k) for k in (keep[0], keep[2])] == [[0, 1, 2], [0, 1]]
    assert len(keep[1]) == 3 and len(set(keep[1])) == 3 and list(keep[1]) == sorted(keep[1])
    assert set(keep[1]) <= set(range(5))
    assert sources.choose([3, 5, 2], cap=5, seed=0) is None  # nothing to leave out
    assert sources.choose([3, 5, 2], cap=0, seed=0) is None and sources.choose([9], None) is None
    # a label's draw depends on its own count, seed and salt only
    np.testing.assert_array_equal(sources.choose([9, 5, 1], cap=3, seed=0)[1], keep[1])
    assert any(
        not np.array_equal(sources.choose([3, 5], 3, seed=s)[1], keep[1]) for s in range(1, 5)
    )
    labels = np.array([1, 0, 1, 1, 2, 1, 0, 1])  # label 1's occurrences at positions 0, 2, 3, 5, 7
    np.testing.assert_array_equal(sources.occurrences(labels), [0, 0, 1, 2, 0, 3, 1, 4])
    mask = sources.selected(labels, [np.array([1]), np.array([0, 4]), np.array([], int)])
    np.testing.assert_array_equal(np.flatnonzero(mask), [0, 6, 7])


def test_judge_selection_is_holdout_split_in_occurrence_space():
    """Without a cap the judges' faces are exactly today's: holdout_split over the faces in file order,
    whatever that order; with one, at most `classifier_faces` per identity, train and held out disjoint."""
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.repeat(np.arange(6), [1, 2, 5, 9, 12, 3]))  # shard order
    counts = np.bincount(labels)
    options = evaluation.EvalOptions(classifier_faces=None, heldout_fraction=0.2, seed=3)
    train_keep, heldout_keep = judges_module.judge_selection(counts, options)
    train_index, heldout_index = judges_module.holdout_split(labels, 0.2, seed=3)
    np.testing.assert_array_equal(np.flatnonzero(sources.selected(labels, train_keep)), train_index)
    np.testing.assert_array_equal(
        np.flatnonzero(sources.selected(labels, heldout_keep)), heldout_index
    )
    capped = evaluation.EvalOptions(classifier_faces=4, heldout_fraction=0.2, seed=3)
    train_keep, heldout_keep = judges_module.judge_selection(counts, capped)
    for label, count in enumerate(counts):
        both = np.concatenate([train_keep[label], heldout_keep[label]])
        assert len(both) == min(count, 4) == len(set(both)) and both.max() < count
        assert len(heldout_keep[label]) == (0 if count < 2 else max(1, round(0.2 * min(count, 4))))


def test_selective_reads_match_the_pipeline(trained_run):
    """PipelineSource reads only the selected faces and utterances, with the pipeline's numbers."""
    from s2f_tf.data import pipeline

    config = preset("tiny")
    source = sources.PipelineSource(trained_run / "data")
    info = source.info()
    images, labels, genders = pipeline.load_faces(trained_run / "data", "train")
    np.testing.assert_array_equal(source.counts("train", "faces"), np.bincount(labels))
    keep = sources.choose(source.counts("train", "faces"), cap=2, seed=1)
    got = source.faces("train", keep=keep)
    mask = sources.selected(labels, keep)
    assert mask.sum() == 2 * info.splits["train"]["num_classes"] == len(got[1])
    for mine, theirs in zip(got, (images, labels, genders), strict=True):
        np.testing.assert_array_equal(mine, theirs[mask])

    for split in ("test", "unseen"):
        counts = source.counts(split, "voices")
        assert counts.sum() == sum(
            info.splits[p]["voices"] for p in info.splits[split].get("parts", [split])
        )
        keep = sources.choose(counts, cap=2, seed=0)
        chosen = {
            item["utterance"][0]: item
            for item in source.voices(split, config, keep=keep).as_numpy_iterator()
        }
        assert len(chosen) == sum(min(c, 2) for c in counts)
        everything = list(source.voices(split, config).as_numpy_iterator())
        wanted = [e for e in everything if e["utterance"][0] in chosen]
        assert len(wanted) == len(chosen)
        for item in wanted:
            other = chosen[item["utterance"][0]]
            for key in ("voice", "voice_label", "gender", "identity", "samples"):
                np.testing.assert_array_equal(other[key], item[key])


# === Bounded evaluation and cached judges, end to end ===


def test_bounded_evaluation_and_judges_trained_once(trained_run, capsys, monkeypatch):
    """`--max-utterances 2 --max-faces 2` reads 2 utterances and 2 real faces per unseen identity; the
    judges of these options are trained by the first run, cached under DATA/judges/<key>/, and a run on
    another work directory (a copy) reuses them: nothing trains, and every number is the same."""
    import shutil

    from s2f_tf.evaluate import classifiers, judge_store

    root = trained_run
    shutil.copytree(root / "wd", root / "wd_copy")
    common = ["--data", root / "data", "--classifier-steps", 6, "--split", "unseen", "--no-fid"]
    bounds = ["--max-utterances", 2, "--max-faces", 2]
    status, first = _s2f(
        capsys, "evaluate", *common, *bounds, "--workdir", root / "wd", "--out", root / "b1"
    )
    assert status == 0 and first["judges"] == "trained"
    metrics1 = json.loads((root / "b1" / "metrics.json").read_text())
    data = json.loads((root / "data" / "dataset.json").read_text())["splits"]
    unseen = metrics1["model"]["splits"]["unseen"]["trained"]
    n_unseen = data["val"]["num_classes"] + data["test"]["num_classes"]
    assert unseen["samples"] == 2 * n_unseen and unseen["reference_faces"] == 2 * n_unseen
    assert metrics1["options"]["max_utterances"] == 2 and metrics1["options"]["max_faces"] == 2
    cache = metrics1["classifiers"]["cache"]
    assert (
        cache.startswith(str(root / "data" / "judges"))
        and metrics1["classifiers"]["judges"] == "trained"
    )
    assert {"judges.json", "identity.weights.h5", "gender.weights.h5"} <= {
        p.name for p in (root / "data" / "judges" / metrics1["classifiers"]["key"]).iterdir()
    }
    assert "at most 2 utterances per identity and split" in (root / "b1" / "report.md").read_text()

    def no_training(*args, **kwargs):
        raise AssertionError("the cached judges must not be retrained")

    monkeypatch.setattr(classifiers, "train_face_classifier", no_training)
    monkeypatch.setattr(judge_store, "train_judges", no_training)
    status, second = _s2f(
        capsys, "evaluate", *common, *bounds, "--workdir", root / "wd_copy", "--out", root / "b2"
    )
    assert status == 0 and second["judges"] == "cached"
    metrics2 = json.loads((root / "b2" / "metrics.json").read_text())
    assert metrics2["classifiers"]["cache"] == cache
    assert metrics2["classifiers"]["judges"] == "cached"
    for key in ("identity", "gender", "train_faces", "heldout_faces"):
        assert metrics2["classifiers"][key] == metrics1["classifiers"][key]
    assert metrics2["model"]["splits"] == metrics1["model"]["splits"]  # same weights, same judges


def test_full_lifts_the_bounds_and_bad_bounds_are_refused(tmp_path, capsys, monkeypatch):
    import s2f_tf.evaluate
    from s2f_tf.errors import S2FError

    seen = []

    def record(source, workdir, out, options, **kwargs):
        seen.append(options)
        raise S2FError("recorded")

    monkeypatch.setattr(s2f_tf.evaluate, "evaluate", record)
    base = ["evaluate", "--data", str(tmp_path), "--workdir", str(tmp_path)]
    assert cli.main(base) == 2 and cli.main([*base, "--all-utterances"]) == 2
    assert cli.main([*base, "--max-utterances", "3", "--max-faces", "0"]) == 2
    capsys.readouterr()
    bounded, full, custom = seen
    assert (bounded.max_utterances, bounded.max_faces, bounded.classifier_faces) == (20, 50, 50)
    assert bounded.gallery_size == 100 and not bounded.retrain_judges
    assert (full.max_utterances, full.max_faces, full.classifier_faces) == (0, 0, 50)
    assert (custom.max_utterances, custom.max_faces) == (3, 0)
    for flag in ("--max-utterances", "--max-faces", "--classifier-faces"):
        assert cli.main([*base, flag, "-1"]) == 2
        assert f"{flag}: must be at least 0, got -1" in capsys.readouterr().err
    assert len(seen) == 3


def test_saved_judges_restore_exactly(judged, tmp_path):
    """Saved and loaded judges give the same logits bit for bit, the same summary and held-out faces."""
    from s2f_tf.evaluate import judge_store

    source, judges, options = judged
    made_of = {"any": "key contents"}
    judge_store.save(judges, tmp_path / "j", made_of)
    model = preset("tiny").model
    back = judge_store.load(tmp_path / "j", model, source, source.info(), options, made_of)
    assert back is not None and back.summary == judges.summary and back.num_classes == 4
    np.testing.assert_array_equal(back.heldout.images, judges.heldout.images)
    for name in ("identity", "gender"):
        mine, theirs = getattr(judges, name), getattr(back, name)
        np.testing.assert_array_equal(
            mine.model.logits(judges.heldout.images), theirs.model.logits(judges.heldout.images)
        )
        assert (theirs.final_accuracy, theirs.steps) == (mine.final_accuracy, mine.steps)
    assert (
        judge_store.load(tmp_path / "j", model, source, source.info(), options, {"other": 1})
        is None
    )
    assert (
        judge_store.load(tmp_path / "none", model, source, source.info(), options, made_of) is None
    )


def test_judges_fall_back_to_the_output_directory_and_retrain(trained_run, tmp_path):
    """A dataset directory where DATA/judges cannot be created: the judges are cached under the
    evaluation's output directory and found there next time; retrain replaces the entry."""
    import shutil

    from s2f_tf.evaluate import judge_store

    data = tmp_path / "data"
    shutil.copytree(trained_run / "data", data, ignore=shutil.ignore_patterns("judges"))
    (data / "judges").write_text("not a directory")
    source = sources.PipelineSource(data)
    info = source.info()
    options = evaluation.EvalOptions(classifier_steps=3, classifier_batch=8)
    model = preset("tiny").model
    out = tmp_path / "out"
    judges, status = judge_store.load_or_train(source, info, model, options, fallback=out)
    assert status["judges"] == "trained" and status["cache"] == str(out / "judges" / status["key"])
    again, status2 = judge_store.load_or_train(source, info, model, options, fallback=out)
    assert status2 == {**status, "judges": "cached"}
    np.testing.assert_array_equal(again.heldout.labels, judges.heldout.labels)
    stamp = (out / "judges" / status["key"] / "judges.json").stat().st_mtime_ns
    _, status3 = judge_store.load_or_train(source, info, model, options, fallback=out, retrain=True)
    assert status3["judges"] == "trained" and status3["cache"] == status["cache"]
    assert (out / "judges" / status["key"] / "judges.json").stat().st_mtime_ns != stamp
    key2, _ = judge_store.judge_key(data, model, evaluation.EvalOptions(classifier_steps=4))
    assert key2 != status["key"]  # another option, another entry
