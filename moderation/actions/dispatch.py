"""The one entry point from HTTP: ``…/actions/<name>/`` on the case page and in the API.

Both turn the request into parameters the same way and run the named action through
its form, so a parameter is accepted, refused or reported identically on both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.files import File

from moderation.actions.base import ActionResult, get_action
from moderation.models import ModerationCase

#: What a browser form posts besides the action's own parameters.
TRANSPORT_FIELDS = frozenset({"csrfmiddlewaretoken", "next"})


def request_params(data: Mapping[str, Any], files: Mapping[str, Any] | None = None,
                   *, ignore: frozenset[str] = TRANSPORT_FIELDS) -> dict[str, Any]:
    """Action parameters from request data (a QueryDict or parsed JSON) and files.

    A form field takes the last value posted under its name; an upload field takes
    every file posted under its name.
    """
    params: dict[str, Any] = {}
    getlist = getattr(files, "getlist", None)
    for key in files or {}:
        if key not in ignore:
            params[key] = getlist(key) if getlist else files[key]  # type: ignore[index]
    for key in data:
        if key in ignore or key in params:
            continue
        value = data.get(key)
        if not isinstance(value, File):
            params[key] = value
    return params


def dispatch(name: str, actor: Any, case: ModerationCase,
             params: Mapping[str, Any]) -> ActionResult:
    """Run the registered action ``name``; raises ActionInvalid for an unknown name."""
    return get_action(name)(actor, case, **params).run()
