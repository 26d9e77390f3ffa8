"""The suite's routes plus the admin, login and language switch (moderator page tests)."""

from django.contrib import admin
from django.urls import include, path

from tests.urls import urlpatterns as suite_patterns

urlpatterns = [
    *suite_patterns,
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("django.contrib.auth.urls")),
]
