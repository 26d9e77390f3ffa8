from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "config.gallery"
    label = "gallery"
    default_auto_field = "django.db.models.BigAutoField"
