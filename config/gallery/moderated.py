"""Tegaki registration for the demo site (found by ModerationConfig's autodiscovery)."""

import moderation
from config.gallery.models import Artwork

moderation.register(Artwork, image_field="image", owner_field="author",
                    declaration_field="ai_declaration", tool_field="ai_tool",
                    url="gallery:work_detail")
