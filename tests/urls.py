from django.urls import include, path

urlpatterns: list = [
    path("moderation/", include("moderation.urls")),
    path("api/", include("moderation.api.urls")),
]
