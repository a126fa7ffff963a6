"""Permission levels and who gets which on a realm.

Levels are ordered: ``read`` (bind, download) < ``write`` (also upload) <
``admin`` (also manage the realm's permissions). Server admins have admin on
every realm; a user has admin on their own ``/u/<user>/...`` realms; everyone
else needs a grant stored per (realm, user).
"""

from __future__ import annotations

from enum import IntEnum

from studio.server.errors import BadRequest
from studio.server.paths import owner_of


class Level(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


GRANTABLE = ("read", "write", "admin")


def parse_level(value: object) -> Level:
    if value not in GRANTABLE:
        raise BadRequest(f"level must be one of {', '.join(GRANTABLE)}; got {value!r}")
    assert isinstance(value, str)
    return Level[value.upper()]


def effective_level(username: str, is_admin: bool, path: str, granted: str | None) -> Level:
    """The level ``username`` has on the realm at canonical ``path``."""
    if is_admin or owner_of(path) == username:
        return Level.ADMIN
    if granted is None:
        return Level.NONE
    return Level[granted.upper()]
