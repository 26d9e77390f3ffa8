"""Safe image decoding (being written)."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from moderation.evidence import ImageInput


def load_image(data: bytes, *, name: str = "") -> ImageInput:
    im = Image.open(io.BytesIO(data))
    im.load()
    rgb = im.convert("RGB")
    return ImageInput(data=data, sha256=hashlib.sha256(data).hexdigest(), format=im.format or "",
                      mime=Image.MIME.get(im.format or "", ""), width=im.width, height=im.height,
                      frames=getattr(im, "n_frames", 1), mode=im.mode, image=rgb, name=name)
