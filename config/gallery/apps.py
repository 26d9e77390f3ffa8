from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GalleryConfig(AppConfig):
    name = "config.gallery"
    label = "gallery"
    # Shown as the demo gallery's section in the admin, in the viewer's language.
    verbose_name = _("Gallery")
    default_auto_field = "django.db.models.BigAutoField"
