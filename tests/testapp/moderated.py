"""Registration of the integer-pk host model (UUIDArtwork uses the decorator form)."""

import moderation
from tests.testapp.models import Artwork

moderation.register(Artwork, image_field="image", owner_field="owner",
                    declaration_field="declaration", tool_field="tool", adult_field="adult",
                    # The work page of the viewers' test site (tests/viewers_urls.py).
                    url=lambda work: f"/works/{work.pk}/")
