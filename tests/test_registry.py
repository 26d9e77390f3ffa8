"""register(): explicit, loud about mistakes, per-sender receivers, int and UUID pks."""

from __future__ import annotations

import pytest
from django.db.models.signals import post_save

import moderation
from moderation.exceptions import AlreadyRegistered, NotRegistered
from moderation.registry import ModerationRegistry
from tests.testapp.models import Artwork, Plain, UUIDArtwork


def test_host_models_are_registered():
    reg = moderation.get_registry()
    assert reg.get_options(Artwork).image_field == "image"
    assert reg.get_options(UUIDArtwork).image_field == "picture"  # decorator form


def test_double_registration_raises():
    with pytest.raises(AlreadyRegistered):
        moderation.register(Artwork, image_field="image", owner_field="owner")


def test_unregistered_lookup_raises():
    with pytest.raises(NotRegistered):
        moderation.get_registry().get_options(Plain)
    with pytest.raises(NotRegistered):
        moderation.unregister(Plain)


def test_bad_field_name_is_named():
    reg = ModerationRegistry()
    with pytest.raises(TypeError, match="no field 'photo'"):
        reg.register(Plain, image_field="photo", owner_field="name")


def test_register_and_unregister_connect_per_sender_receivers():
    """A model registered after the app is ready is connected too (host ``ready()`` order)."""
    before = len(post_save._live_receivers(Plain)[0])
    moderation.register(Plain, image_field="name", owner_field="name")
    try:
        assert len(post_save._live_receivers(Plain)[0]) == before + 1
        assert len(post_save._live_receivers(Artwork)[0]) >= 1
    finally:
        moderation.unregister(Plain)
    assert len(post_save._live_receivers(Plain)[0]) == before


def test_a_fresh_registry_records_options_and_tells_its_listeners():
    reg = ModerationRegistry()
    connected = len(post_save._live_receivers(Plain)[0])
    heard: list[tuple[type, bool]] = []
    reg.register(Plain, image_field="name", owner_field="name")
    reg.add_listener(lambda model, registered: heard.append((model, registered)))
    assert heard == [(Plain, True)]  # told of what was registered before it listened
    reg.unregister(Plain)
    assert heard == [(Plain, True), (Plain, False)]
    assert len(post_save._live_receivers(Plain)[0]) == connected  # it connects nothing


class ProxyArtwork(Artwork):
    class Meta:
        proxy = True
        app_label = "testapp"


def test_lookup_walks_inheritance():
    assert moderation.get_registry().get_options(ProxyArtwork).model is Artwork
    assert moderation.get_registry().is_registered(ProxyArtwork)
