"""Which host models hold uploads, and where their image, owner and declaration live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.urls import reverse

from moderation.exceptions import AlreadyRegistered, NotRegistered


@dataclass(frozen=True)
class ModeratedModelOptions:
    """How Tegaki reads one registered model.

    ``declaration_field`` holds one of :class:`~moderation.constants.Declaration`'s values
    ("none" = hand-made); ``tool_field`` the tool or model the uploader named. ``url`` is
    where a work's page is: a URL name reversed with the work's pk, or a callable taking
    the work; None uses the model's ``get_absolute_url()``. Feeds link their items there
    and the uploader's status page links back to it. ``adult_field`` names the host's
    boolean "adult content" flag, one of the four deepfake-risk signals
    (:mod:`moderation.deepfake`); None: the site has no such flag and nothing escalates.
    """

    model: type[models.Model]
    image_field: str
    owner_field: str
    declaration_field: str | None = None
    tool_field: str | None = None
    url: str | Callable[[Any], str] | None = None
    adult_field: str | None = None

    def get_url(self, instance: models.Model) -> str:
        """The work's page, or "" when the host gave no way to build it."""
        if callable(self.url):
            return str(self.url(instance))
        if isinstance(self.url, str):
            return reverse(self.url, args=[instance.pk])
        get_absolute_url = getattr(instance, "get_absolute_url", None)
        return str(get_absolute_url()) if callable(get_absolute_url) else ""

    def get_file(self, instance: models.Model) -> Any:
        return getattr(instance, self.image_field)

    def get_owner(self, instance: models.Model) -> Any:
        return getattr(instance, self.owner_field, None)

    def get_declaration(self, instance: models.Model) -> str | None:
        if not self.declaration_field:
            return None
        value = getattr(instance, self.declaration_field, None)
        return str(value) if value not in (None, "") else None

    def get_adult(self, instance: models.Model) -> bool:
        """Whether the host flags ``instance`` adult (False when it has no such flag)."""
        return bool(self.adult_field and getattr(instance, self.adult_field, False))

    def get_tool(self, instance: models.Model) -> str:
        if not self.tool_field:
            return ""
        return str(getattr(instance, self.tool_field, "") or "")


#: Called with (model, True) when a model is registered and (model, False) when it is
#: unregistered; :mod:`moderation.signal_handlers` listens to connect its receivers.
RegistrationListener = Callable[[type[models.Model], bool], None]


class ModerationRegistry:
    """Explicit registration that fails loudly (cf. simple-history and Django admin).

    The registry only records options. It knows nothing of signals or scans: whoever
    must react to a registration (the signal handlers) subscribes with
    :meth:`add_listener`, so registering stays possible before the app is ready and the
    upload path keeps pointing one way.
    """

    def __init__(self) -> None:
        self._registry: dict[type[models.Model], ModeratedModelOptions] = {}
        self._listeners: list[RegistrationListener] = []

    def add_listener(self, listener: RegistrationListener) -> None:
        """Subscribe ``listener``; it is told of every model registered so far, too.

        Hosts may register in their own ``AppConfig.ready()``, which can run after ours,
        so a listener added in our ``ready()`` must also hear about later registrations.
        Adding the same listener twice is a no-op.
        """
        if listener in self._listeners:
            return
        self._listeners.append(listener)
        for model in self._registry:
            listener(model, True)

    def register(self, model: type[models.Model] | None = None, *, image_field: str = "image",
                 owner_field: str = "owner", declaration_field: str | None = None,
                 tool_field: str | None = None,
                 url: str | Callable[[Any], str] | None = None,
                 adult_field: str | None = None) -> Any:
        """Register ``model``; called without a model it returns a class decorator."""
        if model is None:
            def decorator(cls: type[models.Model]) -> type[models.Model]:
                self.register(cls, image_field=image_field, owner_field=owner_field,
                              declaration_field=declaration_field, tool_field=tool_field,
                              url=url, adult_field=adult_field)
                return cls
            return decorator
        if model._meta.abstract:
            raise TypeError(f"{model.__name__} is abstract and cannot be moderated")
        if model in self._registry:
            raise AlreadyRegistered(f"{model._meta.label} is already registered for moderation")
        for attr, name in (("image_field", image_field), ("owner_field", owner_field),
                           ("declaration_field", declaration_field),
                           ("tool_field", tool_field), ("adult_field", adult_field)):
            if name is None:
                continue
            try:
                model._meta.get_field(name)
            except Exception as exc:
                raise TypeError(
                    f"register({model.__name__}, {attr}={name!r}): {model.__name__} has no "
                    f"field {name!r}"
                ) from exc
        options = ModeratedModelOptions(model, image_field, owner_field,
                                        declaration_field, tool_field, url, adult_field)
        self._registry[model] = options
        for listener in self._listeners:
            listener(model, True)
        return options

    def unregister(self, model: type[models.Model]) -> None:
        if model not in self._registry:
            raise NotRegistered(f"{model._meta.label} is not registered for moderation")
        del self._registry[model]
        for listener in self._listeners:
            listener(model, False)

    def get_options(self, model: type[models.Model]) -> ModeratedModelOptions:
        """Return the options for ``model`` or the nearest registered ancestor."""
        for klass in model.__mro__:
            if klass in self._registry:
                return self._registry[klass]
        raise NotRegistered(f"{model._meta.label} is not registered for moderation")

    def is_registered(self, model: type[models.Model]) -> bool:
        try:
            self.get_options(model)
        except NotRegistered:
            return False
        return True

    def model_for_label(self, label: str) -> type[models.Model] | None:
        """Return the registered model named ``app_label.ModelName``, or None.

        Views that take a model name from the URL use this, so only moderated models
        can ever be reached through them.
        """
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            return None
        return model if self.is_registered(model) else None

    def registered_models(self) -> list[type[models.Model]]:
        return list(self._registry)

    def items(self) -> list[tuple[type[models.Model], ModeratedModelOptions]]:
        return list(self._registry.items())


registry = ModerationRegistry()
