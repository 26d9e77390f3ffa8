"""Shared pieces of the moderator pages: the moderator gate and a strict CSP."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from moderation.permissions import is_moderator

#: Moderator pages render attacker-controlled metadata (escaped); the CSP is the second
#: wall: no inline script, no foreign origins, no plugins, no framing.
MODERATOR_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "
                 "data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                 "frame-ancestors 'none'")


def with_csp(response: HttpResponseBase) -> HttpResponseBase:
    response.setdefault("Content-Security-Policy", MODERATOR_CSP)
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "same-origin"
    response.setdefault("X-Frame-Options", "DENY")
    return response


def moderator_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Anonymous users go to the login page; signed-in non-moderators get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_moderator(request.user):
            raise PermissionDenied
        return with_csp(view(request, *args, **kwargs))

    return wrapper


def signed_in(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Uploader pages: sign-in required, the same CSP."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return with_csp(view(request, *args, **kwargs))

    return wrapper
