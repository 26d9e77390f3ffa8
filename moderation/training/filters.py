"""Image-level filters: what must not enter the training set, and near-duplicate hashing.

Each filter removes a shortcut the model would learn or an image whose label would be
wrong: control maps and interface graphics are not generated artworks, provider badges are a
text shortcut, and near-duplicates would leak between validation groups.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Fractions of the height cropped from the top and bottom of every template thumbnail:
#: provider badges ("OpenAI", "Black Forest Labs"...) are burned into the top-left corner
#: and "Input"/"After" captions into the bottom-left, also on templates whose index entry
#: names no logo, so the bands are removed from all of them.
BADGE_BAND = 0.2
CAPTION_BAND = 0.12
#: Images smaller than this (short side) carry too little native-resolution texture.
MIN_SIDE = 256


def dhash(image: Image.Image, size: int = 8) -> int:
    """Return a 64-bit difference hash: cheap, robust to re-encoding and mild resizing."""
    small = image.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS)
    px = np.asarray(small, dtype=np.int16)
    bits = (px[:, 1:] > px[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    """Return the number of differing bits between two hashes."""
    return (a ^ b).bit_count()


def is_control_map(image: Image.Image) -> bool:
    """Return True for depth, canny, pose and normal maps.

    Depth/canny/lineart maps are (nearly) grey; normal maps sit around the colour
    (128, 128, 255). Neither is an artwork, generated or not.
    """
    rgb = np.asarray(image.convert("RGB").resize((64, 64)), dtype=np.float32)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    if float(np.mean(chroma)) < 6.0:
        return True
    mean = rgb.reshape(-1, 3).mean(axis=0)
    return bool(mean[2] > 180 and abs(mean[0] - 128) < 40 and abs(mean[1] - 128) < 40
                and float(np.std(rgb[..., 2])) < 40)


def is_flat_graphic(image: Image.Image) -> bool:
    """Return True for logos and UI graphics: very few distinct colours."""
    small = image.convert("RGB").resize((128, 128), Image.Resampling.NEAREST)
    colours = small.getcolors(maxcolors=1 << 14)
    return colours is not None and len(colours) < 48


def crop_badge_band(image: Image.Image) -> Image.Image:
    """Remove the bands where provider badges and before/after captions are burned in."""
    top = round(image.height * BADGE_BAND)
    bottom = image.height - round(image.height * CAPTION_BAND)
    return image.crop((0, top, image.width, bottom))


def middle_frame(image: Image.Image) -> Image.Image:
    """Return one frame from the middle of an animation (frame 0 is often a fade-in)."""
    n = getattr(image, "n_frames", 1)
    if n > 1:
        image.seek(n // 2)
    frame = image.convert("RGBA" if "A" in image.mode or image.mode == "P" else "RGB")
    return frame.copy()
