"""The attribute judge of s2f evaluate on faces drawn by s2f_tf.synth.faces with known attributes (softmax
heads on the identity classifier's embedding, s2f_tf.evaluate.attribute_judge), trained with the judges,
scored by split_metrics, cached and restored by judge_store; then the per-split tables and scores of
s2f_tf.evaluate.attributes on hand-built identities with known answers."""

import collections
import dataclasses

import numpy as np
import pytest

from s2f_tf.config import preset
from s2f_tf.evaluate import attribute_judge, evaluation, generation, judge_store, scores
from s2f_tf.evaluate import attributes as judged
from s2f_tf.evaluate import judges as judges_module
from s2f_tf.synth import attributes, corpus, identities
from s2f_tf.synth import faces as face_drawer

SKINS = ("very light", "medium", "dark")
HAIRS = ("black", "blond")


def _variant(person, skin, hair):
    """`person` with another skin tone and hair colour (and nothing else changed)."""
    face = dataclasses.replace(
        person.face, skin=identities.SKIN_TONES[skin], hair=identities.HAIR_COLOURS[hair]
    )
    name = f"{person.name}_{skin.replace(' ', '')}_{hair}"
    return dataclasses.replace(person, name=name, face=face, skin_tone=skin, hair_colour=hair)


def _photos(face, count, seed):
    """`count` photos of `face` at 64 px, in the corpus's photo conditions."""
    rng = np.random.default_rng(seed)
    return np.stack(
        [
            np.asarray(face_drawer.draw(face, corpus.random_photo(rng), rng, size=64))
            for _ in range(count)
        ]
    )


class DrawnSource:
    """18 training identities: 3 people (none a senior), each drawn with 3 skin tones x 2 hair colours,
    6 photos each, with their attribute labels in info() as `s2f prepare` writes them."""

    def __init__(self):
        people = [p for p in identities.sample_identities(40, seed=3) if p.age_group != "senior"]
        self.probe = people[3]  # a fourth person, never trained on
        self.people = [_variant(p, s, h) for p in people[:3] for s in SKINS for h in HAIRS]
        images = [_photos(p.face, 6, [5, i]) for i, p in enumerate(self.people)]
        self.labels = np.repeat(np.arange(len(self.people)), 6)
        self.images = np.concatenate(images)

    def info(self):
        split = {
            "num_classes": len(self.people),
            "names": [p.name for p in self.people],
            "genders": [p.gender for p in self.people],
        }
        labelled = {
            p.name: {"attributes": attributes.labels(p), "voice": attributes.voice_latents(p)}
            for p in self.people
        }
        return {"splits": {"train": split, "train_heldout": split}, "identities": labelled}

    def faces(self, split):
        return self.images, self.labels, np.array([self.people[i].gender for i in self.labels])


@pytest.fixture(scope="module")
def drawn():
    source = DrawnSource()
    options = evaluation.EvalOptions(
        classifier_steps=120, classifier_batch=32, heldout_fraction=0.25
    )
    judges = judges_module.train_judges(source, source.info(), preset("tiny").model, options)
    return source, judges, options


def test_judges_carry_attribute_heads(drawn):
    source, judges, _ = drawn
    heads = judges.attributes
    assert set(heads.classes) == {a.name for a in attributes.ATTRIBUTES} - {"gender"}
    assert heads.weights["skin_tone"].shape == (64, 5) and heads.biases["hair_colour"].shape == (7,)
    summary = judges.summary["attributes"]
    assert "gender classifier" in summary["architecture"]
    gender = judges.summary["gender"]["heldout_real_accuracy"]["value"]
    assert summary["gender"]["heldout_real_accuracy"]["value"] == gender  # the gender classifier
    for name in ("skin_tone", "hair_colour"):
        accuracy = summary[name]["heldout_real_accuracy"]
        assert accuracy["n"] == 18 * 2 and accuracy["value"] >= 0.75, (name, accuracy)


def test_a_changed_attribute_is_judged_changed(drawn):
    """The probe (a person the judges never saw) drawn with one attribute changed: its photos are judged
    to show the value drawn."""
    source, judges, _ = drawn
    for name, field, values, table in (
        ("skin_tone", "skin", ("very light", "dark"), identities.SKIN_TONES),
        ("hair_colour", "hair", ("black", "blond"), identities.HAIR_COLOURS),
    ):
        for value in values:
            images = _photos(dataclasses.replace(source.probe.face, **{field: table[value]}), 12, 9)
            embeddings = judges.identity.model.embed(images)
            found = judges_module.predict_attributes(judges, images, embeddings)[name]
            seen = collections.Counter(attributes.ATTRIBUTE[name].classes[i] for i in found)
            assert seen[value] >= 9, (name, value, seen)


def test_real_faces_as_generated_score_the_judges_real_accuracy(drawn):
    """The held-out real faces passed as the generated ones: each attribute's agreement is the judge's
    accuracy on those real faces, gender's is gender agreement; the oracle and chance are the table's."""
    source, judges, options = drawn
    held = judges.heldout
    table = judged.split_table(source.info(), "train")
    faces = generation.Generated(held.images, held.labels, held.genders, list(range(36)))
    result = scores.split_metrics(faces, held, judges, True, options, None, table)
    found = result["attributes"]
    assert list(found) == [a.name for a in attributes.ATTRIBUTES]
    for name, entry in found.items():
        assert entry["value"] == entry["real_faces"]["value"], name
        heldout = judges.summary["attributes"][name]["heldout_real_accuracy"]
        assert entry["value"] == heldout["value"] and entry["n"] == 36
    assert found["gender"]["value"] == result["gender_agreement"]["value"]
    truth = table.truth["skin_tone"][held.labels]
    assert found["skin_tone"]["chance"] == pytest.approx(1 / 3)  # 3 skin tones, equally often
    oracle = table.oracle["skin_tone"][held.labels]
    assert found["skin_tone"]["oracle"]["value"] == pytest.approx(np.mean(oracle == truth))


def test_flat_faces_score_at_chance_or_below(drawn):
    """Flat grey faces get one answer per attribute: at most the majority-class rate."""
    source, judges, options = drawn
    held = judges.heldout
    table = judged.split_table(source.info(), "train")
    grey = generation.Generated(
        np.full_like(held.images, 128), held.labels, held.genders, list(range(36))
    )
    found = scores.split_metrics(grey, held, judges, True, options, None, table)["attributes"]
    for name, entry in found.items():
        assert entry["value"] <= entry["chance"] + 1e-12, name
    assert found["skin_tone"]["value"] < 0.5  # skin tones are 1/3 each


def test_heads_are_cached_and_restored_exactly(drawn, tmp_path):
    source, judges, options = drawn
    made_of = {"key": 1, "attributes": {"judge": attribute_judge.VERSION}}
    judge_store.save(judges, tmp_path / "j", made_of)
    model = preset("tiny").model
    back = judge_store.load(tmp_path / "j", model, source, source.info(), options, made_of)
    embeddings = judges.identity.model.embed(judges.heldout.images)
    for name, logits in judges.attributes.logits(embeddings).items():
        np.testing.assert_array_equal(back.attributes.logits(embeddings)[name], logits)
    assert back.summary["attributes"] == judges.summary["attributes"]
    (tmp_path / "j" / judge_store.ATTRIBUTES).unlink()  # an entry without its heads: train anew
    assert judge_store.load(tmp_path / "j", model, source, source.info(), options, made_of) is None


def test_softmax_heads_on_known_features():
    """Two separable clusters and a third class no face has: every face right, the third never chosen;
    an unlabelled face (-1) is left out of the fit."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 0.5, (40, 3)), rng.normal(2, 0.5, (40, 3))])
    y = np.repeat([0, 2], 40)
    y_with_unknown = np.append(y, -1)
    x_with_unknown = np.vstack([x, [[50.0, 50.0, 50.0]]])
    heads = attribute_judge.fit_heads(
        x_with_unknown, {"a": y_with_unknown}, {"a": ("left", "never", "right")}
    )
    np.testing.assert_array_equal(heads.predict(x)["a"], y)
    again = attribute_judge.fit_heads(x_with_unknown, {"a": y_with_unknown}, {"a": "abc"})
    np.testing.assert_array_equal(again.weights["a"], heads.weights["a"])  # deterministic
    probabilities = np.exp(heads.logits(x)["a"])
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    assert probabilities[:, 1].max() < 0.05


# === Per-split tables and scores on hand-built identities ===


def _person(gender, age, community, skin, hair, beard="none", glasses="no"):
    return {
        "attributes": {
            "gender": gender,
            "age_group": age,
            "skin_tone": skin,
            "hair_colour": hair,
            "beard": beard,
            "glasses": glasses,
        },
        "voice": {
            "gender": gender,
            "age_group": age,
            "community": community,
            "vocal_tract_cm": 15.0,
        },
    }


def _info():
    """Four labelled unseen identities with known oracle answers, and one without labels."""
    people = {
        "Ann": _person("f", "senior", 2, "dark", "grey"),  # oracle: skin dark, hair grey: right
        "Bea": _person("f", "young", 1, "light", "black"),  # oracle: medium / black
        "Cid": _person("m", "adult", 0, "very light", "blond", beard="full", glasses="yes"),
        "Dan": _person("m", "young", 2, "dark", "black", beard="none"),  # dark / black
        "Eve": {},  # no labels (as real data)
    }
    names = ["Ann", "Bea", "Cid", "Dan", "Eve"]
    split = {"num_classes": 5, "names": names, "genders": ["f", "f", "m", "m", "f"]}
    return {"splits": {"test": split}, "identities": people}


def test_split_table_truth_and_oracle():
    table = judged.split_table(_info(), "test")
    skin = attributes.ATTRIBUTE["skin_tone"]
    np.testing.assert_array_equal(
        table.truth["skin_tone"],
        [skin.index(v) for v in ("dark", "light", "very light", "dark")] + [-1],
    )
    np.testing.assert_array_equal(
        table.oracle["skin_tone"],
        [skin.index(v) for v in ("dark", "medium", "very light", "dark")] + [-1],
    )
    hair = attributes.ATTRIBUTE["hair_colour"]
    np.testing.assert_array_equal(
        table.oracle["hair_colour"],
        [hair.index(v) for v in ("grey", "black", "dark brown", "black")] + [-1],
    )
    np.testing.assert_array_equal(table.known([0, 4, 2]), [True, False, True])
    unlabelled = {"splits": _info()["splits"], "identities": {"Eve": {}}}
    assert judged.split_table(unlabelled, "test") is None and not judged.has_labels(unlabelled)
    assert judged.has_labels(_info())


def test_split_scores_count_agreement_chance_oracle_and_real_faces():
    """Utterances of Ann x2, Bea, Cid, Dan, Eve (unlabelled: left out); a judge that calls every skin
    'dark': right for Ann x2 and Dan; real faces: one per identity."""
    table = judged.split_table(_info(), "test")
    labels = np.array([0, 0, 1, 2, 3, 4])
    skin = attributes.ATTRIBUTE["skin_tone"]
    generated = {name: table.truth[name][labels].clip(0) for name in table.truth}  # all right...
    generated["skin_tone"] = np.full(6, skin.index("dark"))  # ...but skin: always "dark"
    real = {name: table.truth[name][[0, 1, 2, 3, 4]].clip(0) for name in table.truth}
    real["glasses"] = np.zeros(5, np.int64)  # "no" for everyone: Cid's is wrong
    scores = judged.split_scores(table, generated, labels, real, [0, 1, 2, 3, 4], seed=0)
    assert list(scores) == [a.name for a in attributes.ATTRIBUTES]
    s = scores["skin_tone"]
    assert (s["value"], s["n"]) == (3 / 5, 5)
    assert s["chance"] == 3 / 5  # "dark" is the most common true skin among the 5 samples
    assert s["oracle"]["value"] == 4 / 5  # Bea's is light, the oracle says medium
    assert s["real_faces"]["value"] == 1.0 and s["real_faces"]["n"] == 4
    h = scores["hair_colour"]
    assert h["value"] == 1.0 and h["oracle"]["value"] == 4 / 5  # Cid: blond, oracle dark brown
    assert h["chance"] == 2 / 5  # grey x2 (Ann) or black x2 (Bea, Dan)
    g = scores["glasses"]
    assert g["oracle"]["value"] == 4 / 5 and g["real_faces"]["value"] == 3 / 4
    assert (
        scores["gender"]["oracle"]["value"] == 1.0 and scores["age_group"]["oracle"]["value"] == 1.0
    )
    assert (
        judged.majority_rate([2, 2, 1]) == pytest.approx(2 / 3) and judged.majority_rate([]) == 0.0
    )
