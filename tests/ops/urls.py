from django.urls import include, path

urlpatterns = [path("", include("moderation.ops.urls"))]
