"""Host models the suite registers: one with an integer pk, one with a UUID pk."""

import uuid

from django.conf import settings
from django.db import models

import moderation


class Artwork(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    image = models.ImageField(upload_to="art/")
    declaration = models.CharField(max_length=16, blank=True, default="none")
    tool = models.CharField(max_length=200, blank=True)
    #: The host's "adult content" flag (the deepfake-risk escalation reads it).
    adult = models.BooleanField(default=False)


@moderation.register(image_field="picture", owner_field="owner")
class UUIDArtwork(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    picture = models.ImageField(upload_to="uuidart/")


class Plain(models.Model):
    """Never registered: registration errors are tested against it."""

    name = models.CharField(max_length=10)
