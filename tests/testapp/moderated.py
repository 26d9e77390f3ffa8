"""Registration of the integer-pk host model (UUIDArtwork uses the decorator form)."""

import moderation
from tests.testapp.models import Artwork

moderation.register(Artwork, image_field="image", owner_field="owner",
                    declaration_field="declaration", tool_field="tool")
