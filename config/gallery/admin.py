"""Admin for the demo's works; the moderators' queue itself lives in the moderation app."""

from django.contrib import admin

from config.gallery.models import Artwork


@admin.register(Artwork)
class ArtworkAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "ai_declaration", "ai_tool", "created_at"]
    list_filter = ["ai_declaration"]
    search_fields = ["title", "author__username", "ai_tool"]
    raw_id_fields = ["author"]
    date_hierarchy = "created_at"
