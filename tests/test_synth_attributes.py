"""Face attributes of the synthetic corpus (s2f_tf.synth.attributes): their classes, each identity's labels,
the file synth writes and prepare carries, and the voice-only oracle against the generator it is derived
from."""

import numpy as np
import pytest

from s2f_tf.errors import S2FError
from s2f_tf.synth import attributes, identities


def test_classes_are_the_generators_tables():
    classes = {a.name: a.classes for a in attributes.ATTRIBUTES}
    assert classes["skin_tone"] == tuple(identities.SKIN_TONES) and len(classes["skin_tone"]) == 5
    assert (
        classes["hair_colour"] == (*identities.HAIR_COLOURS, "grey")
        and len(identities.HAIR_COLOURS) == 6
    )
    assert classes["age_group"] == ("young", "adult", "senior")
    assert classes["beard"] == ("none", "stubble", "moustache", "full")
    assert classes["gender"] == ("f", "m") and classes["glasses"] == ("no", "yes")
    linked = {a.name for a in attributes.ATTRIBUTES if a.voice_linked}
    assert linked == {"gender", "age_group", "skin_tone", "hair_colour"}
    assert attributes.ATTRIBUTE["beard"].voice_link == "via gender"
    assert attributes.ATTRIBUTE["glasses"].voice_link == "no"


def test_labels_follow_the_drawn_traits():
    people = identities.sample_identities(300, seed=4)
    for person in people:
        values = attributes.labels(person)
        assert values["gender"] == person.gender and values["age_group"] == person.age_group
        if person.age_group == "senior":
            assert values["hair_colour"] == "grey"
        else:
            assert values["hair_colour"] == person.hair_colour
            # the drawn hair is the class's colour, tinted (sd 10 per channel)
            drawn = np.array(person.face.hair) - identities.HAIR_COLOURS[person.hair_colour]
            assert np.abs(drawn).max() <= 50
        drawn = np.array(person.face.skin) - identities.SKIN_TONES[values["skin_tone"]]
        assert np.abs(drawn).max() <= 40
        assert values["beard"] == identities.BEARDS[person.face.beard]
        assert values["glasses"] == ("yes" if person.face.glasses else "no")
        if person.gender == "f":
            assert values["beard"] == "none"


def test_distribution_is_the_generators():
    """P(attribute | voice latents), averaged over 2,000 sampled identities, matches the frequencies the
    generator drew, over all identities and within each community (sampling error ~0.01-0.02)."""
    people = identities.sample_identities(2000, seed=1)
    for group in (None, 0, 1, 2):
        chosen = [p for p in people if group is None or p.community == group]
        for attribute in attributes.ATTRIBUTES:
            expected = np.mean(
                [
                    attributes.distribution(attributes.voice_latents(p))[attribute.name]
                    for p in chosen
                ],
                axis=0,
            )
            found = np.bincount(
                [attribute.index(attributes.labels(p)[attribute.name]) for p in chosen],
                minlength=len(attribute.classes),
            ) / len(chosen)
            assert np.abs(found - expected).max() < 0.05, (group, attribute.name, found, expected)
    for person in people[:50]:
        for name, p in attributes.distribution(attributes.voice_latents(person)).items():
            assert p.shape == (len(attributes.ATTRIBUTE[name].classes),)
            assert p.sum() == pytest.approx(1.0) and p.min() >= 0


def test_most_probable_on_hand_built_voices():
    f_senior_2 = attributes.most_probable({"gender": "f", "age_group": "senior", "community": 2})
    assert f_senior_2 == {
        "gender": "f",
        "age_group": "senior",
        "skin_tone": "dark",  # community 2: (0, 0, .15, .4, .45)
        "hair_colour": "grey",  # every senior
        "beard": "none",  # no female has one
        "glasses": "no",  # 80 % of everyone
    }
    m_young_0 = attributes.most_probable(
        {"gender": "m", "age_group": "young", "community": 0, "vocal_tract_cm": 17.0}
    )
    assert m_young_0["skin_tone"] == "very light" and m_young_0["hair_colour"] == "dark brown"
    assert m_young_0["beard"] == "none"  # 0.35, the most common of a male's four
    m_adult_1 = attributes.most_probable({"gender": "m", "age_group": "adult", "community": 1})
    assert (m_adult_1["skin_tone"], m_adult_1["hair_colour"]) == ("medium", "black")


def test_the_file_round_trip_and_its_errors(tmp_path):
    people = identities.sample_identities(12, seed=2)
    path = tmp_path / attributes.FILE
    attributes.write(path, people)
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == list(attributes.HEADER) and len(lines) == 13
    table = attributes.read(path)
    assert list(table) == [p.name for p in people]
    for person in people:
        assert table[person.name]["attributes"] == attributes.labels(person)
        voice = table[person.name]["voice"]
        assert voice["community"] == person.community and voice["gender"] == person.gender
        assert voice["vocal_tract_cm"] == pytest.approx(person.voice.vocal_tract_cm, abs=1e-3)
        assert attributes.most_probable(voice) == attributes.most_probable(
            attributes.voice_latents(person)
        )

    bad = lines[:2] + [lines[2].replace("\tno\t", "\tmaybe\t").replace("\tyes\t", "\tmaybe\t")]
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(S2FError, match=r":3: glasses 'maybe' is not one of no, yes"):
        attributes.read(path)
    path.write_text("name\tskin\n")
    with pytest.raises(S2FError, match="not an attribute file"):
        attributes.read(path)
    path.write_text("\n".join([lines[0], "Someone\tf\tyoung"]) + "\n")
    with pytest.raises(S2FError, match=r":2: 3 fields, expected 9"):
        attributes.read(path)
