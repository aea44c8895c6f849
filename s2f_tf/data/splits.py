"""Identities and splits of a VoxCeleb1-style dataset: the meta file, the reference letter rule, split files.

The reference split (Wen et al. 2019 code): identities whose VGGFace name starts with A-E are held out
(divided ~112:189 into val and test), F-Z are training identities.
"""

from __future__ import annotations

import collections
import csv
import unicodedata
from pathlib import Path

import numpy as np

from s2f_tf.errors import S2FError

META_HEADER = ("VoxCeleb1 ID", "VGGFace1 ID", "Gender", "Nationality", "Set")
VAL_FRACTION = 112 / 301  # the reference's val : test identities among the held-out ones.


def is_plain_name(name: str) -> bool:
    """Whether `name` can be used as one folder name under --voices/--faces: not empty, not `.`/`..`, no
    path separator or NUL. Identity ids and names come from the meta file, which is untrusted: a row
    `../../escape` must not make prepare read (and store) files outside the folders it was given."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\0")


def read_meta(path) -> tuple[list[dict], collections.Counter]:
    """Rows of a VoxCeleb1 meta file as dicts (id, name, gender, nationality, set); bad rows counted."""
    skipped = collections.Counter()
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise S2FError(f"{path}: cannot read the meta file ({error})") from None
    rows = []
    seen_ids, seen_names = set(), set()
    for fields in csv.reader(text.splitlines(), delimiter="\t"):
        fields = [f.strip() for f in fields]
        if not any(fields):
            continue
        if tuple(fields[:2]) == META_HEADER[:2]:
            continue
        if len(fields) < 3 or not fields[0] or not fields[1] or fields[2].lower() not in ("m", "f"):
            skipped["bad_meta_row"] += 1
            continue
        if not (is_plain_name(fields[0]) and is_plain_name(fields[1])):
            skipped["unsafe_meta_row"] += 1
            continue
        if fields[0] in seen_ids or fields[1] in seen_names:
            skipped["duplicate_meta_row"] += 1
            continue
        seen_ids.add(fields[0])
        seen_names.add(fields[1])
        rows.append(
            {
                "id": fields[0],
                "name": fields[1],
                "gender": fields[2].lower(),
                "nationality": fields[3] if len(fields) > 3 else "",
                "set": fields[4] if len(fields) > 4 else "",
            }
        )
    if not rows:
        raise S2FError(f"{path}: no identities (expected the tab-separated VoxCeleb1 meta format)")
    return rows, skipped


def first_letter(name: str) -> str:
    """The split letter of a name: its first letter, accents removed, upper case ("" if none)."""
    letter = next((c for c in name if c.isalpha()), "")
    base = [c for c in unicodedata.normalize("NFKD", letter) if c.isascii() and c.isalpha()]
    return (base[0] if base else letter).upper()


def letter_splits(names) -> dict[str, str]:
    """Reference rule: A-E held out (divided ~112:189 into val and test, deterministically), F-Z train."""
    held = sorted(n for n in names if first_letter(n) in tuple("ABCDE"))
    order = np.random.default_rng(0).permutation(len(held))
    n_val = round(len(held) * VAL_FRACTION)
    result = {n: "train" for n in names}
    for rank, index in enumerate(order):
        result[held[index]] = "val" if rank < n_val else "test"
    return result


def file_splits(path, names) -> dict[str, str]:
    """`name<TAB or space>train|val|test` per line; names not listed are left out."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise S2FError(f"{path}: cannot read the split file ({error})") from None
    listed = {}
    for number, line in enumerate(lines, 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 2 or parts[1] not in ("train", "val", "test"):
            raise S2FError(f"{path}:{number}: expected 'name train|val|test', got {line.strip()!r}")
        listed[parts[0]] = parts[1]
    return {n: listed[n] for n in names if n in listed}
