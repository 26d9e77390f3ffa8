"""Users in each moderation role and a held case (a plugin the root conftest loads)."""

from __future__ import annotations

from typing import Any

import pytest

from moderation.models import ModerationCase
from tests.factories import make_case, make_user


@pytest.fixture
def uploader(db: Any) -> Any:
    return make_user("uploader")


@pytest.fixture
def other_user(db: Any) -> Any:
    return make_user("other")


@pytest.fixture
def moderator(db: Any) -> Any:
    return make_user("mod", moderator=True)


@pytest.fixture
def moderator2(db: Any) -> Any:
    return make_user("mod2", moderator=True)


@pytest.fixture
def staff(db: Any) -> Any:
    return make_user("staffer", staff=True)


@pytest.fixture
def site_admin(db: Any) -> Any:
    return make_user("root", superuser=True)


@pytest.fixture
def case(uploader: Any) -> ModerationCase:
    return make_case(uploader)
