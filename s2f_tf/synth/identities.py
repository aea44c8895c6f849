"""The identities of the synthetic corpus: names, VoxCeleb IDs, and the latent attributes that drive both
an identity's voice (`s2f_tf.synth.voices`) and its face (`s2f_tf.synth.faces`); see `s2f_tf.synth.corpus`
for what they share. `sample_identities` draws them from a seed; `write_meta` writes `vox1_meta.csv`.
"""

from __future__ import annotations

import csv
import dataclasses

import numpy as np

from s2f_tf.data.splits import META_HEADER
from s2f_tf.errors import S2FError
from s2f_tf.synth import faces as face_drawer
from s2f_tf.synth import voices as voice_synth

HELD_OUT_LETTERS = "ABCDE"  # the reference split: names starting A-E are held out.
HELD_OUT_FRACTION = 301 / 1225  # as in VoxCeleb1 x VGGFace1.

FIRST_NAMES = {
    "m": "Aaron Adam Alan Andrew Arthur Ben Brian Bruce Caleb Carlos Charles Colin Daniel David Dennis "
    "Diego Edward Elias Eric Ethan Felix Frank George Gordon Henry Hugo Ian Isaac Jack James Jonas "
    "Kevin Karl Leo Louis Marco Martin Nathan Noah Oliver Oscar Paul Peter Quentin Rafael Robert "
    "Samuel Simon Thomas Tobias Ulrich Victor Vincent Walter William Xavier Yusuf Yves Zachary Zane",
    "f": "Abigail Alice Amelia Anna Beatrice Bella Brenda Camila Carla Chloe Clara Daisy Diana Dora "
    "Eleanor Elena Emma Eva Fiona Freya Grace Greta Hannah Helen Ingrid Irene Julia Jane Karen Katie "
    "Laura Lena Maria Mia Nadia Nora Olivia Paula Priya Quinn Rachel Rosa Sara Sofia Tessa Tina Uma "
    "Valerie Vera Wendy Willa Ximena Yara Yvonne Zoe Zara",
}
LAST_NAMES = (
    "Abbott Baker Carter Dawson Ellis Fischer Garcia Hughes Ito Jensen Kowalski Lopez Moreau Nakamura "
    "Okafor Patel Rossi Silva Tanaka Usman Varga Walsh Xu Yilmaz Zhang Bianchi Novak Schmidt Murphy "
    "Kim Singh Costa Horvath Lindqvist Dubois Mensah Haddad Olsen Reyes Sato"
).split()
NATIONALITIES = (
    "USA",
    "UK",
    "India",
    "Canada",
    "Australia",
    "Ireland",
    "Germany",
    "France",
    "Brazil",
)
# The skin tones and hair colours an identity's community draws from (class name -> RGB before the
# identity's tint); `s2f_tf.synth.attributes` uses the names as the classes of its attribute judge.
SKIN_TONES = {
    "very light": (241, 204, 178),
    "light": (224, 180, 150),
    "medium": (198, 148, 110),
    "tan": (160, 110, 75),
    "dark": (112, 76, 52),
}
HAIR_COLOURS = {
    "black": (25, 20, 18),
    "dark brown": (60, 40, 25),
    "brown": (100, 70, 40),
    "auburn": (130, 70, 35),
    "blond": (200, 165, 100),
    "red": (150, 60, 30),
}
EYE_COLOURS = (
    (70, 45, 25),
    (40, 25, 15),
    (60, 110, 180),
    (70, 130, 80),
    (120, 125, 130),
    (130, 100, 50),
)
AGE_GROUPS = ("young", "adult", "senior")
BEARDS = ("none", "stubble", "moustache", "full")  # FaceTraits.beard 0..3
BEARD_WEIGHTS = (0.35, 0.2, 0.15, 0.3)  # a male's beard, drawn independently of his voice
GLASSES_RATE = 0.2  # identities with glasses, whatever their voice
# A hidden "community" latent stands in for the accent <-> ancestry correlation of real speakers (Speech2Face,
# Sec. 1: language and accent are shared within communities, which share physical features). Each community
# has an accent (per-formant vowel-space shift, speaking-rate and intonation-range factors) and its own
# distribution over skin tones and hair colours (weights over SKIN_TONES / HAIR_COLOURS, in their order); they
# overlap.
COMMUNITIES = (
    dict(formants=(1.06, 0.95, 1.0, 1.03, 1.0), rate=1.12, f0_range=0.8,
         skin=(0.5, 0.35, 0.15, 0.0, 0.0), hair=(0.15, 0.25, 0.2, 0.1, 0.2, 0.1)),
    dict(formants=(0.95, 1.06, 0.97, 1.0, 1.02), rate=0.9, f0_range=1.3,
         skin=(0.0, 0.2, 0.45, 0.35, 0.0), hair=(0.45, 0.35, 0.15, 0.05, 0.0, 0.0)),
    dict(formants=(1.0, 1.0, 1.05, 0.96, 0.97), rate=1.0, f0_range=1.0,
         skin=(0.0, 0.0, 0.15, 0.4, 0.45), hair=(0.7, 0.25, 0.05, 0.0, 0.0, 0.0)),
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Identity:
    """One synthetic person: meta fields plus the voice and face traits drawn from shared latents."""

    voxceleb_id: str
    name: str
    gender: str
    nationality: str
    age_group: str
    community: int
    voice: voice_synth.VoiceTraits
    face: face_drawer.FaceTraits
    skin_tone: str  # the SKIN_TONES class drawn (face.skin is it tinted)
    hair_colour: str  # the HAIR_COLOURS class drawn (face.hair: it tinted, greyed for seniors)


def _tint(colour, rng, spread):
    return tuple(int(np.clip(c + rng.normal(0, spread), 0, 255)) for c in colour)


def _first_names(gender, held_out):
    return [n for n in FIRST_NAMES[gender].split() if (n[0] in HELD_OUT_LETTERS) == held_out]


def max_identities() -> int:
    """The most identities the name pools can name: every pool (gender x held out) must hold its share."""
    shares = {"m": 0.55, "f": 0.45}
    return min(
        int(len(_first_names(g, out)) * len(LAST_NAMES) / (share * fraction)) - 1
        for g, share in shares.items()
        for out, fraction in ((True, HELD_OUT_FRACTION), (False, 1 - HELD_OUT_FRACTION))
    )


def _names(rng, genders, held_out):
    need = {}
    for gender, out in zip(genders, held_out, strict=True):
        need[gender, out] = need.get((gender, out), 0) + 1
    for (gender, out), count in need.items():
        if count > len(_first_names(gender, out)) * len(LAST_NAMES):
            raise S2FError(f"--identities {len(genders)} exceeds the synthetic name pool")
    taken = set()
    names = []
    for gender, out in zip(genders, held_out, strict=True):
        pool = _first_names(gender, out)
        while True:
            name = f"{rng.choice(pool)}_{rng.choice(LAST_NAMES)}"
            if name not in taken:
                taken.add(name)
                names.append(name)
                break
    return names


def _traits(rng, gender, age, community):
    """(voice traits, face traits, skin tone name, hair colour name) of one identity, drawn from `rng`
    in a fixed order: the voice first, then the face (whose width follows the vocal tract's length)."""
    accent = COMMUNITIES[community]
    voice, vtl = _voice_traits(rng, gender, age, accent)
    face, skin_tone, hair_colour = _face_traits(rng, gender, age, accent, vtl)
    return voice, face, skin_tone, hair_colour


def _voice_traits(rng, gender, age, accent):
    """(VoiceTraits, vocal-tract length in cm)."""
    male = gender == "m"
    vtl = float(np.clip(rng.normal(17.0, 0.6) if male else rng.normal(14.6, 0.5), 13.4, 18.8))
    vtl -= 0.25 if age == "young" else 0.0
    f0 = float(np.exp(rng.normal(np.log(118.0), 0.12) if male else rng.normal(np.log(205.0), 0.1)))
    f0 *= (16.0 / vtl) ** 0.5 if male else (14.6 / vtl) ** 0.5
    f0 += (8.0 if male else -15.0) if age == "senior" else 0.0
    senior = age == "senior"
    voice = voice_synth.VoiceTraits(
        f0=f0,
        vocal_tract_cm=vtl,
        formant_offsets=tuple(
            float(x) for x in np.multiply(accent["formants"], rng.normal(1, 0.03, 5))
        ),
        rate=float(
            rng.normal(4.6, 0.4)
            * accent["rate"]
            * (0.85 if senior else 1.08 if age == "young" else 1.0)
        ),
        jitter=float(rng.uniform(0.015, 0.03) if senior else rng.uniform(0.004, 0.012)),
        shimmer=float(rng.uniform(0.05, 0.2)),
        breathiness=float(rng.uniform(0.03, 0.09) if not male else rng.uniform(0.01, 0.05)),
        tilt=float(rng.uniform(0.4, 0.75)),
        open_quotient=float(rng.uniform(0.6, 0.72) if not male else rng.uniform(0.45, 0.6)),
        f0_range=float(rng.uniform(2.0, 4.5) * accent["f0_range"]),
    )
    return voice, vtl


def _face_traits(rng, gender, age, accent, vtl):
    male, senior = gender == "m", age == "senior"
    width = 92.0 + (vtl - 13.4) / 5.4 * 32.0 + rng.normal(0, 2.5)
    hair_colour = list(HAIR_COLOURS)[rng.choice(len(HAIR_COLOURS), p=accent["hair"])]
    hair = HAIR_COLOURS[hair_colour]
    if senior:  # grey to white
        grey = rng.uniform(0.55, 0.95)
        hair = tuple(int((1 - grey) * c + grey * 200) for c in hair)
    hair = _tint(hair, rng, 10)
    skin_tone = list(SKIN_TONES)[rng.choice(len(SKIN_TONES), p=accent["skin"])]
    skin = _tint(SKIN_TONES[skin_tone], rng, 8)
    if male:
        hair_length = 0.0 if senior and rng.random() < 0.35 else float(rng.uniform(0.05, 0.3))
        beard = int(rng.choice(len(BEARDS), p=BEARD_WEIGHTS))
        lips = _tint(tuple(int(c * 0.8) for c in (skin[0], skin[1] * 0.8, skin[2] * 0.8)), rng, 6)
    else:
        hair_length, beard = float(rng.uniform(0.55, 1.0)), 0
        lipstick = rng.random() < 0.8
        lips = _tint(
            (200, 40, 70) if lipstick else (skin[0], skin[1] * 0.7, skin[2] * 0.75), rng, 15
        )
    face = face_drawer.FaceTraits(
        gender=gender,
        face_width=float(width),
        face_height=float(width * rng.uniform(1.2, 1.32)),
        jaw=float(rng.uniform(0.5, 1.0) if male else rng.uniform(0.0, 0.4)),
        skin=skin,
        hair=hair,
        hair_length=hair_length,
        fringe=float(rng.uniform(0.1, 0.3)),
        beard=beard,
        eyes=_tint(EYE_COLOURS[rng.integers(len(EYE_COLOURS))], rng, 8),
        eye_spacing=float(rng.uniform(0.38, 0.48)),
        brow_weight=float(rng.uniform(5.0, 8.0) if male else rng.uniform(3.0, 4.5)),
        lips=lips,
        glasses=bool(rng.random() < GLASSES_RATE),
        wrinkles=float(
            rng.uniform(0.5, 1.0) if senior else rng.uniform(0.0, 0.3) if age == "adult" else 0.0
        ),
    )
    return face, skin_tone, hair_colour


def sample_identities(count: int, seed: int = 0) -> list[Identity]:
    """`count` identities (sorted by name, VoxCeleb IDs id10001... in that order), about a quarter A-E."""
    if count < 1:
        raise S2FError(f"--identities must be at least 1, got {count}")
    if count > max_identities():
        raise S2FError(f"--identities must be at most {max_identities()}, got {count}")
    rng = np.random.default_rng([seed, 0])
    genders = np.array(["m"] * round(count * 0.55) + ["f"] * (count - round(count * 0.55)))
    rng.shuffle(genders)
    held_out = np.zeros(count, bool)
    held_out[rng.permutation(count)[: max(1, round(count * HELD_OUT_FRACTION))]] = True
    names = _names(rng, genders, held_out)
    people = []
    for gender, name in zip(genders, names, strict=True):
        age = AGE_GROUPS[rng.choice(3, p=[0.3, 0.45, 0.25])]
        community = int(rng.integers(len(COMMUNITIES)))
        voice, face, skin_tone, hair_colour = _traits(rng, str(gender), age, community)
        nationality = str(rng.choice(NATIONALITIES))
        people.append(
            (name, str(gender), nationality, age, community, voice, face, skin_tone, hair_colour)
        )
    people.sort(key=lambda p: p[0])
    return [Identity(f"id{10001 + i}", *person) for i, person in enumerate(people)]


def write_meta(path, identities) -> None:
    """`vox1_meta.csv` exactly as VoxCeleb1: tab-separated, header, one row per identity."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(META_HEADER)
        for person in identities:
            writer.writerow(
                (person.voxceleb_id, person.name, person.gender, person.nationality, "dev")
            )
