"""The face attributes of the synthetic corpus: their classes (the one definition the corpus writer, `s2f
prepare` and the attribute judge of `s2f evaluate` share), each identity's labels, the file that carries
them, and the corpus's own distribution of each attribute given what the voice is drawn from (the voice-only
oracle).

    DIR/attributes.csv    beside vox1_meta.csv, tab-separated, a header then one row per identity: its
                          VGGFace1 name, the six attributes, and the voice latents (gender, age group,
                          community, vocal-tract length in cm)

Real VoxCeleb1 x VGGFace1 has no such file; `s2f prepare` carries it into `dataset.json` when it lies
beside the meta file, and `s2f evaluate` judges attributes only when the dataset has them.

Classes (`ATTRIBUTES`):
- gender: f, m. age group: young, adult, senior.
- skin tone: the five `identities.SKIN_TONES`, light to dark (before the per-identity tint).
- hair colour: the six `identities.HAIR_COLOURS`, plus "grey" for every senior: the generator greys a
  senior's hair 55-95 % of the way to (200, 200, 200), which leaves too little of the colour drawn to tell.
- beard: none, stubble, moustache, full (a female has none). glasses: no, yes.

Which are voice-linked, from the generator (`identities._traits`): gender and age group are voice latents
themselves; skin tone and hair colour follow the community, whose accent the voice carries (hair also the
age group: grey); the beard only through gender (no female has one; a male's is drawn independently of
his voice); glasses not at all (a fixed 20 % of identities). The vocal-tract length sets the face's width
and size but none of these six.

Example:
>>> person = ids.sample_identities(1, seed=0)[0]
>>> labels(person)["hair_colour"] in ATTRIBUTE["hair_colour"].classes
True
>>> most_probable({"gender": "f", "age_group": "senior", "community": 2})["hair_colour"]
'grey'
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np

from s2f_tf.errors import S2FError
from s2f_tf.synth import identities as ids

FILE = "attributes.csv"  # beside vox1_meta.csv
GREY = "grey"  # every senior's hair colour class


@dataclasses.dataclass(frozen=True)
class Attribute:
    """One face attribute.

    Args:
        name: its key in files and metrics ("skin_tone").
        label: how reports name it ("skin tone").
        classes: its values, in a fixed order (class index = position).
        voice_link: "yes" (the voice latents change its distribution), "via gender" (only through the
            speaker's gender) or "no".
    """

    name: str
    label: str
    classes: tuple[str, ...]
    voice_link: str

    @property
    def voice_linked(self) -> bool:
        return self.voice_link == "yes"

    def index(self, value: str) -> int:
        return self.classes.index(value)


ATTRIBUTES = (
    Attribute("gender", "gender", ("f", "m"), "yes"),
    Attribute("age_group", "age group", ids.AGE_GROUPS, "yes"),
    Attribute("skin_tone", "skin tone", tuple(ids.SKIN_TONES), "yes"),
    Attribute("hair_colour", "hair colour", (*ids.HAIR_COLOURS, GREY), "yes"),
    Attribute("beard", "beard", ids.BEARDS, "via gender"),
    Attribute("glasses", "glasses", ("no", "yes"), "no"),
)
ATTRIBUTE = {a.name: a for a in ATTRIBUTES}
VOICE = ("gender", "age_group", "community", "vocal_tract_cm")  # the voice latents in the file
HEADER = ("VGGFace1 ID", *(a.name for a in ATTRIBUTES), *VOICE[2:])


def labels(person: ids.Identity) -> dict[str, str]:
    """The six attribute values of a synthetic identity."""
    senior = person.age_group == "senior"
    return {
        "gender": person.gender,
        "age_group": person.age_group,
        "skin_tone": person.skin_tone,
        "hair_colour": GREY if senior else person.hair_colour,
        "beard": ids.BEARDS[person.face.beard],
        "glasses": "yes" if person.face.glasses else "no",
    }


def voice_latents(person: ids.Identity) -> dict:
    """What the identity's voice is drawn from (`VOICE`)."""
    return {
        "gender": person.gender,
        "age_group": person.age_group,
        "community": person.community,
        "vocal_tract_cm": round(person.voice.vocal_tract_cm, 3),
    }


def distribution(voice: dict) -> dict[str, np.ndarray]:
    """P(class | voice latents) of every attribute under the corpus's generative model (`identities`'
    tables: the communities' skin and hair weights, the beard weights, the glasses rate).

    Args:
        voice: {"gender", "age_group", "community"} (a "vocal_tract_cm" is accepted and changes nothing).
    """
    gender, age, community = voice["gender"], voice["age_group"], int(voice["community"])
    weights = ids.COMMUNITIES[community]

    def one_hot(attribute, value):
        p = np.zeros(len(ATTRIBUTE[attribute].classes))
        p[ATTRIBUTE[attribute].index(value)] = 1.0
        return p

    hair = one_hot("hair_colour", GREY) if age == "senior" else np.append(weights["hair"], 0.0)
    beard = np.asarray(ids.BEARD_WEIGHTS, float) if gender == "m" else one_hot("beard", "none")
    return {
        "gender": one_hot("gender", gender),
        "age_group": one_hot("age_group", age),
        "skin_tone": np.asarray(weights["skin"], float),
        "hair_colour": hair,
        "beard": beard,
        "glasses": np.array([1 - ids.GLASSES_RATE, ids.GLASSES_RATE]),
    }


def most_probable(voice: dict) -> dict[str, str]:
    """The value of each attribute a voice-only predictor that knows the voice latents exactly would
    choose: the most probable under `distribution` (the first class of a tie)."""
    return {
        name: ATTRIBUTE[name].classes[int(np.argmax(p))] for name, p in distribution(voice).items()
    }


# === The file ===


def write(path, people) -> None:
    """`attributes.csv`: the header, then each identity's name, attributes and voice latents."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(HEADER)
        for person in people:
            values, voice = labels(person), voice_latents(person)
            writer.writerow(
                (
                    person.name,
                    *(values[a.name] for a in ATTRIBUTES),
                    voice["community"],
                    voice["vocal_tract_cm"],
                )
            )


def read(path) -> dict[str, dict]:
    """name -> {"attributes": {name: value}, "voice": voice latents} from an `attributes.csv`;
    S2FError naming the line for anything else (an unknown class, a missing field, a bad number)."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise S2FError(f"{path}: cannot read the attribute file ({error})") from None
    rows = list(csv.reader(lines, delimiter="\t"))
    if not rows or tuple(rows[0]) != HEADER:
        raise S2FError(f"{path}: not an attribute file (expected the header {' '.join(HEADER)})")
    table = {}
    for number, fields in enumerate(rows[1:], 2):
        if not any(fields):
            continue
        if len(fields) != len(HEADER):
            raise S2FError(f"{path}:{number}: {len(fields)} fields, expected {len(HEADER)}")
        name, values, (community, vtl) = fields[0], fields[1:-2], fields[-2:]
        for attribute, value in zip(ATTRIBUTES, values, strict=True):
            if value not in attribute.classes:
                raise S2FError(
                    f"{path}:{number}: {attribute.name} {value!r} is not one of"
                    f" {', '.join(attribute.classes)}"
                )
        try:
            voice = {"community": int(community), "vocal_tract_cm": float(vtl)}
        except ValueError:
            raise S2FError(
                f"{path}:{number}: community and vocal_tract_cm must be numbers"
            ) from None
        if not 0 <= voice["community"] < len(ids.COMMUNITIES) or not math.isfinite(
            voice["vocal_tract_cm"]
        ):
            raise S2FError(f"{path}:{number}: community or vocal_tract_cm out of range")
        attributes = {a.name: v for a, v in zip(ATTRIBUTES, values, strict=True)}
        voice = {"gender": attributes["gender"], "age_group": attributes["age_group"], **voice}
        table[name] = {"attributes": attributes, "voice": voice}
    return table
