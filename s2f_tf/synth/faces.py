"""A Pillow face drawer driven by an identity's latent attributes, with per-photo variation.

Drawn at 2x on a 256x256 canvas and reduced with a Lanczos filter (anti-aliasing), then saved at 128x128 so
`prepare`'s resize path is exercised. Gender is visible at 64x64 (long hair framing the face and reaching the
shoulders vs. short hair, beards, jaw width, lip colour); face width and size follow the vocal-tract length
(audible in the formants); age sets hair greyness and wrinkles; skin tone and hair colour are drawn from
the identity's community (whose accent is audible); eye colour, tints and glasses are identity-specific only. Clothing and background change from photo to photo (as in VGGFace, where they
are no identity cue).

Example:
>>> face = FaceTraits(gender="f")
>>> image = draw(face, Photo(), np.random.default_rng(0))
>>> image.size, image.mode
((128, 128), 'RGB')
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

CANVAS = 256


@dataclasses.dataclass(frozen=True)
class FaceTraits:
    """What an identity looks like.

    Args:
        gender: "m" or "f".
        face_width: face ellipse width on the 256 canvas (follows vocal-tract length).
        face_height: face ellipse height on the 256 canvas.
        jaw: 0 (pointed chin) ... 1 (square jaw).
        skin: RGB skin colour.
        hair: RGB hair colour.
        hair_length: 0 (bald/short) ... 1 (long, to the shoulders).
        fringe: fringe height as a fraction of the face height.
        beard: 0 none, 1 stubble, 2 moustache, 3 full beard.
        eyes: RGB iris colour.
        eye_spacing: distance between eye centres as a fraction of face width.
        brow_weight: eyebrow thickness in canvas pixels.
        lips: RGB lip colour.
        glasses: draws glasses.
        wrinkles: 0 ... 1 line strength (age).
    """

    gender: str = "m"
    face_width: float = 110.0
    face_height: float = 140.0
    jaw: float = 0.5
    skin: tuple[int, int, int] = (224, 180, 150)
    hair: tuple[int, int, int] = (70, 50, 30)
    hair_length: float = 0.1
    fringe: float = 0.2
    beard: int = 0
    eyes: tuple[int, int, int] = (90, 60, 30)
    eye_spacing: float = 0.42
    brow_weight: float = 5.0
    lips: tuple[int, int, int] = (180, 100, 100)
    glasses: bool = False
    wrinkles: float = 0.0


@dataclasses.dataclass(frozen=True)
class Photo:
    """One photo's conditions.

    Args:
        angle: in-plane rotation in degrees; shift: (dx, dy) in output pixels; scale: zoom.
        light: brightness factor; warmth: colour cast (-1 cool ... 1 warm).
        smile: -1 (frown) ... 1 (broad smile); eyes_open: 0.3 ... 1.
        background: two RGB colours of a vertical gradient.
        shirt: RGB colour of the clothing.
        blur: Gaussian blur radius in output pixels.
    """

    angle: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    light: float = 1.0
    warmth: float = 0.0
    smile: float = 0.3
    eyes_open: float = 1.0
    background: tuple[tuple[int, int, int], tuple[int, int, int]] = (
        (200, 200, 210),
        (150, 150, 170),
    )
    blur: float = 0.0
    shirt: tuple[int, int, int] = (40, 60, 120)


def _shade(colour, factor):
    return tuple(int(np.clip(c * factor, 0, 255)) for c in colour)


def _gradient(top, bottom, size):
    ramp = np.linspace(0.0, 1.0, size)[:, None, None]
    pixels = (1 - ramp) * np.array(top, np.float64) + ramp * np.array(bottom, np.float64)
    return Image.fromarray(np.broadcast_to(pixels, (size, size, 3)).astype(np.uint8), "RGB")


@dataclasses.dataclass(frozen=True)
class _Head:
    """Where the head lies on the drawing canvas: centre (cx, cy), width w, height h, top and bottom."""

    cx: float
    cy: float
    w: float
    h: float

    @property
    def top(self) -> float:
        return self.cy - self.h / 2

    @property
    def bottom(self) -> float:
        return self.cy + self.h / 2

    @property
    def mouth_y(self) -> float:
        return self.cy + self.h * 0.27


def draw(face: FaceTraits, photo: Photo, rng, size: int = 128) -> Image.Image:
    """One photo of `face` as an RGB `size` x `size` Pillow image.

    Args:
        face: the identity's traits.
        photo: this photo's conditions.
        rng: a numpy Generator (small texture randomness).
        size: output side in pixels.
    """
    image = _gradient(*photo.background, CANVAS)
    d = ImageDraw.Draw(image)
    head = _Head(CANVAS / 2, CANVAS * 0.47, face.face_width, face.face_height)
    _draw_body(d, face, photo, head)
    _draw_face(d, face, head)
    _draw_hair(d, face, head)
    _draw_eyes(d, face, photo, head)
    _draw_mouth_and_lines(d, face, photo, head)
    return _photograph(image, photo, rng, size, head)


def _draw_body(d, face: FaceTraits, photo: Photo, head: _Head):
    """Long hair behind the head, shoulders and neck, hair falling in front of the shoulders."""
    cx, cy, w = head.cx, head.cy, head.w
    top, bottom = head.top, head.bottom
    reach = bottom + 20 + 70 * face.hair_length  # long hair: down to (or past) the shoulders
    if face.hair_length > 0.4:
        d.rounded_rectangle(
            [cx - w / 2 - 22, top - 16, cx + w / 2 + 22, reach],
            radius=w / 2,
            fill=_shade(face.hair, 0.8),
        )
    d.ellipse([cx - 120, bottom + 18, cx + 120, bottom + 200], fill=photo.shirt)
    d.rectangle([cx - w * 0.2, bottom - 20, cx + w * 0.2, bottom + 35], fill=_shade(face.skin, 0.9))
    if face.hair_length > 0.4:  # hair falling in front of the shoulders
        for side in (-1, 1):
            x0 = cx + side * (w / 2 + 2)
            d.rounded_rectangle(
                [min(x0, x0 + side * 26), cy, max(x0, x0 + side * 26), reach + 10],
                radius=10,
                fill=face.hair,
            )


def _draw_face(d, face: FaceTraits, head: _Head):
    """Ears, then the face: an ellipse, squared off at the jaw by a rounded rectangle; the beard."""
    cx, cy, w, h = head.cx, head.cy, head.w, head.h
    top, bottom = head.top, head.bottom
    for side in (-1, 1):
        ex = cx + side * w / 2
        d.ellipse([ex - 10, cy - 14, ex + 10, cy + 18], fill=_shade(face.skin, 0.92))
    d.ellipse([cx - w / 2, top, cx + w / 2, bottom], fill=face.skin)
    if face.jaw > 0.05:
        jaw_w = w * (0.55 + 0.4 * face.jaw)
        d.rounded_rectangle(
            [cx - jaw_w / 2, cy, cx + jaw_w / 2, bottom - 2 + 4 * face.jaw],
            radius=max(4.0, 30 * (1 - face.jaw) + 8),
            fill=face.skin,
        )
    if face.beard:
        colour = face.hair if face.beard > 1 else _shade(face.skin, 0.72)
        if face.beard in (1, 3):
            d.chord(
                [cx - w / 2 + 4, cy - h * 0.1, cx + w / 2 - 4, bottom + 6], 15, 165, fill=colour
            )
        if face.beard >= 2:
            mouth_y = head.mouth_y
            d.rounded_rectangle(
                [cx - w * 0.22, mouth_y - 12, cx + w * 0.22, mouth_y - 1], radius=5, fill=face.hair
            )


def _draw_hair(d, face: FaceTraits, head: _Head):
    """Hair on top: a cap (short) or a cap with a side parting and fringe."""
    cx, w, h, top = head.cx, head.w, head.h, head.top
    cap = [cx - w / 2 - 4, top - 10 - 8 * face.hair_length, cx + w / 2 + 4, top + h * 0.55]
    if face.hair_length > 0.02:
        d.chord(cap, 180, 360, fill=face.hair)
        fringe_y = top + h * face.fringe
        d.chord([cx - w / 2, top - 6, cx + w / 2, fringe_y + h * 0.12], 180, 360, fill=face.hair)


def _draw_eyes(d, face: FaceTraits, photo: Photo, head: _Head):
    """Eyes, brows and glasses."""
    cx, w = head.cx, head.w
    eye_y = head.cy - head.h * 0.05
    for side in (-1, 1):
        ex = cx + side * w * face.eye_spacing / 2
        ew, eh = w * 0.13, w * 0.075 * photo.eyes_open
        d.ellipse([ex - ew, eye_y - eh, ex + ew, eye_y + eh], fill=(245, 245, 240))
        r = min(eh, ew * 0.55)
        d.ellipse([ex - r, eye_y - r, ex + r, eye_y + r], fill=face.eyes)
        d.ellipse([ex - r / 2.5, eye_y - r / 2.5, ex + r / 2.5, eye_y + r / 2.5], fill=(15, 15, 15))
        by = eye_y - w * 0.14
        inner, outer = ex - side * ew * 1.1, ex + side * ew * 1.2
        d.line(
            [(inner, by + 2), (ex, by - 3), (outer, by + 1)],
            fill=_shade(face.hair, 0.8),
            width=int(face.brow_weight),
            joint="curve",
        )
        if face.glasses:
            d.ellipse(
                [ex - ew * 1.6, eye_y - ew * 1.3, ex + ew * 1.6, eye_y + ew * 1.3],
                outline=(30, 30, 30),
                width=3,
            )
    if face.glasses:
        d.line([(cx - w * 0.08, eye_y), (cx + w * 0.08, eye_y)], fill=(30, 30, 30), width=3)


def _draw_mouth_and_lines(d, face: FaceTraits, photo: Photo, head: _Head):
    """Nose and mouth (the smile bends the mouth arc), then age lines."""
    cx, cy, w, h = head.cx, head.cy, head.w, head.h
    eye_y = cy - h * 0.05
    nose = _shade(face.skin, 0.78)
    d.line([(cx, eye_y + 8), (cx - 6, cy + h * 0.16), (cx + 4, cy + h * 0.18)], fill=nose, width=3)
    mouth_y = head.mouth_y
    mw = w * 0.2
    bend = 10 * photo.smile
    box = [cx - mw, mouth_y - abs(bend) - 3, cx + mw, mouth_y + abs(bend) + 3]
    if bend >= 0:
        d.chord(box, 0, 180, fill=face.lips)
    else:
        d.chord(box, 180, 360, fill=face.lips)
    if face.wrinkles > 0.1:
        line = _shade(face.skin, 1 - 0.25 * face.wrinkles)
        for k in range(3):
            y = head.top + h * (0.15 + 0.05 * k)
            d.arc([cx - w * 0.3, y, cx + w * 0.3, y + 16], 200, 340, fill=line, width=2)
        for side in (-1, 1):
            x = cx + side * w * 0.2
            d.arc(
                [x - 16, mouth_y - 20, x + 16, mouth_y + 8], 60 if side < 0 else 0, 180, fill=line
            )


def _photograph(image: Image.Image, photo: Photo, rng, size: int, head: _Head) -> Image.Image:
    """The drawing as photographed: skin texture, pose, scale, lighting, colour cast, blur."""
    texture = rng.normal(0.0, 3.0, (CANVAS, CANVAS, 1))
    image = Image.fromarray(np.clip(np.asarray(image) + texture, 0, 255).astype(np.uint8), "RGB")
    image = image.rotate(
        photo.angle,
        resample=Image.Resampling.BILINEAR,
        center=(head.cx, head.cy),
        translate=(photo.shift[0] * 2, photo.shift[1] * 2),
        fillcolor=photo.background[1],
    )
    margin = round(CANVAS * (1 - 1 / photo.scale) / 2)
    if margin >= 0:  # zoom in
        image = image.crop((margin, margin, CANVAS - margin, CANVAS - margin))
    else:  # zoom out: more background around the head
        wider = Image.new("RGB", (CANVAS - 2 * margin,) * 2, photo.background[1])
        wider.paste(image, (-margin, -margin))
        image = wider
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    image = ImageEnhance.Brightness(image).enhance(photo.light)
    if photo.warmth:
        cast = np.array([1 + 0.08 * photo.warmth, 1.0, 1 - 0.08 * photo.warmth])
        image = Image.fromarray(np.clip(np.asarray(image) * cast, 0, 255).astype(np.uint8), "RGB")
    if photo.blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(photo.blur))
    return image
