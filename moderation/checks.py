"""System checks: ``manage.py check`` tells an operator exactly what to fix."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.utils.module_loading import import_string

from moderation.conf import DEFAULTS, REMOVED_SETTINGS
from moderation.constants import Route
from moderation.detectors import detectors
from moderation.exceptions import InvalidDetectorConfig
from moderation.feeds.indexes import missing_feed_index
from moderation.fingerprints import pdq
from moderation.policy import BasePolicy
from moderation.registry import registry


@checks.register("moderation")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings as django_settings

    errors: list[checks.CheckMessage] = []
    user = getattr(django_settings, "MODERATION", {}) or {}
    if not isinstance(user, dict):
        return [checks.Error("settings.MODERATION must be a dict.",
                             hint="Set MODERATION = {...} in your settings module.",
                             id="moderation.E001")]
    for key in user:
        if key in REMOVED_SETTINGS:
            errors.append(checks.Error(f'MODERATION["{key}"] was removed.',
                                       hint=REMOVED_SETTINGS[key], id="moderation.E002"))
        elif key not in DEFAULTS:
            errors.append(checks.Error(
                f'Unknown setting MODERATION["{key}"].',
                hint=f"Valid keys: {', '.join(sorted(DEFAULTS))}.", id="moderation.E003"))
    policy = user.get("POLICY", DEFAULTS["POLICY"])
    hint = "Point it at a subclass of moderation.policy.BasePolicy."
    try:
        resolved = import_string(policy) if isinstance(policy, str) else policy
    except ImportError as exc:
        errors.append(checks.Error(
            f'MODERATION["POLICY"] = {policy!r} cannot be imported: {exc}',
            hint=hint, id="moderation.E004"))
    else:
        if not (isinstance(resolved, BasePolicy) or (
                isinstance(resolved, type) and issubclass(resolved, BasePolicy))):
            errors.append(checks.Error(
                f'MODERATION["POLICY"] = {policy!r} is not a BasePolicy.',
                hint=hint, id="moderation.E004"))
    for key in ("AI_ASSISTED_ROUTE", "PENDING_ROUTE"):
        value = user.get(key, DEFAULTS[key])
        if value not in Route.values:
            errors.append(checks.Error(
                f'MODERATION["{key}"] = {value!r} is not a route.',
                hint=f"Use one of {Route.values}.", id="moderation.E005"))
    positive = ("MAX_UPLOAD_BYTES", "MAX_IMAGE_PIXELS", "MAX_FRAMES", "MAX_ATTEMPTS",
                "TASK_SOFT_TIME_LIMIT", "TASK_TIME_LIMIT", "SWEEP_AFTER_SECONDS",
                "METADATA_FIELD_LIMIT", "METADATA_TOTAL_LIMIT", "JSON_MAX_DEPTH",
                "RETRY_BACKOFF_MAX", "MAX_TRANSIENT_FAILURES")
    for key in positive:
        value = user.get(key, DEFAULTS[key])
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            errors.append(checks.Error(
                f'MODERATION["{key}"] must be a positive integer (got {value!r}).',
                hint=f"The default is {DEFAULTS[key]!r}; MAX_IMAGE_PIXELS must never be None.",
                id="moderation.E006"))
    soft = user.get("TASK_SOFT_TIME_LIMIT", DEFAULTS["TASK_SOFT_TIME_LIMIT"])
    hard = user.get("TASK_TIME_LIMIT", DEFAULTS["TASK_TIME_LIMIT"])
    if isinstance(soft, int) and isinstance(hard, int) and soft >= hard:
        errors.append(checks.Error(
            "MODERATION TASK_SOFT_TIME_LIMIT must be lower than TASK_TIME_LIMIT.",
            hint="Leave the task time to record its failure between the two limits.",
            id="moderation.E007"))
    sweep = user.get("SWEEP_AFTER_SECONDS", DEFAULTS["SWEEP_AFTER_SECONDS"])
    if isinstance(sweep, int) and isinstance(hard, int) and sweep <= hard:
        errors.append(checks.Warning(
            "MODERATION SWEEP_AFTER_SECONDS is not longer than TASK_TIME_LIMIT: the sweeper "
            "may re-queue cases that are still being scanned.",
            hint="Set SWEEP_AFTER_SECONDS well above TASK_TIME_LIMIT.", id="moderation.W001"))
    backoff = user.get("RETRY_BACKOFF_MAX", DEFAULTS["RETRY_BACKOFF_MAX"])
    if isinstance(sweep, int) and isinstance(backoff, int) and backoff >= sweep:
        errors.append(checks.Warning(
            "MODERATION RETRY_BACKOFF_MAX is not shorter than SWEEP_AFTER_SECONDS: the "
            "sweeper will re-queue cases still waiting out their retry delay.",
            hint="Keep RETRY_BACKOFF_MAX well below SWEEP_AFTER_SECONDS.",
            id="moderation.W003"))
    formats = user.get("ALLOWED_FORMATS", DEFAULTS["ALLOWED_FORMATS"])
    risky = {"EPS", "PSD", "FITS", "PDF", "JPEG2000", "DDS", "MCIDAS", "ICO", "BMP", "TIFF"}
    bad = sorted(set(map(str.upper, formats)) & risky)
    if bad:
        errors.append(checks.Error(
            f'MODERATION["ALLOWED_FORMATS"] includes risky decoders {bad}.',
            hint="Allow only JPEG, PNG, WEBP, GIF, AVIF (and HEIF with pillow-heif).",
            id="moderation.E008"))
    return errors


@checks.register("moderation")
def check_detectors(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    try:
        aliases = detectors.aliases()
    except Exception as exc:
        return [checks.Error(f'MODERATION["DETECTORS"] is invalid: {exc}',
                             hint='Use {"alias": {"BACKEND": ..., "OPTIONS": {...}}}.',
                             id="moderation.E010")]
    if not aliases:
        messages.append(checks.Warning(
            'MODERATION["DETECTORS"] is empty: every upload will be labelled hand-made.',
            hint="Keep at least the default 'provenance' detector.", id="moderation.W010"))
    for alias in aliases:
        try:
            detector = detectors[alias]
        except InvalidDetectorConfig as exc:
            messages.append(checks.Error(str(exc), hint="Fix or remove this detector alias.",
                                         id="moderation.E011", obj=alias))
            continue
        messages.extend(detector.check())
    return messages


@checks.register("moderation")
def check_registry(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.db import models

    messages: list[checks.CheckMessage] = []
    for model, options in registry.items():
        field = model._meta.get_field(options.image_field)
        if not isinstance(field, models.FileField):
            messages.append(checks.Error(
                f"{model._meta.label}.{options.image_field} is not a FileField/ImageField.",
                hint="register(..., image_field=...) must name the field holding the upload.",
                id="moderation.E020", obj=model))
    return messages


@checks.register("moderation")
def check_feed_indexes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when a registered model's feed ordering has no index (see
    ``moderation.feeds.indexes``): its feeds would slow down as the site grows."""
    messages: list[checks.CheckMessage] = []
    for model in registry.registered_models():
        missing = missing_feed_index(model)
        if missing is not None:
            messages.append(checks.Warning(missing.message, hint=missing.hint,
                                           id="moderation.W040", obj=model))
    return messages


@checks.register("moderation")
def check_fingerprints(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when fingerprints are on but the ``match`` extra is missing: uploads would be
    neither hashed nor matched against the banks."""
    from django.conf import settings as django_settings

    user = getattr(django_settings, "MODERATION", {}) or {}
    if not isinstance(user, dict) or not user.get("FINGERPRINTS", DEFAULTS["FINGERPRINTS"]):
        return []  # a MODERATION that is not a dict is E001's to report
    missing = [name for name, ok in (("pdqhash", pdq.available()),) if not ok]
    if not missing:
        return []
    return [checks.Warning(
        f"Fingerprints are on but {', '.join(missing)} is not installed: uploads are not "
        "matched against the hash banks.",
        hint="pip install 'django-tegaki[match]', or set MODERATION['FINGERPRINTS'] = False.",
        id="moderation.W050")]


# Deployment checks of the REST_FRAMEWORK settings (permission, throttle, pagination and
# proxy defaults) live with the API package.
from moderation.api import checks as _api_checks  # noqa: E402, F401
