"""Permission levels and who gets which on a realm.

Levels are ordered: ``read`` (bind, download) < ``write`` (also upload) <
``admin`` (also manage the realm's permissions). Server admins have admin on
every realm; a user has admin on the realms their account owns (the
``/u/<user>/...`` realms it created: ownership is by account id, so a new
account given a deleted one's name owns none of them); everyone else needs a
grant stored per (realm, account id).
"""

from __future__ import annotations

from enum import IntEnum

from studio.server.errors import BadRequest


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


def effective_level(
    user_id: str, is_admin: bool, owner_id: str | None, granted: str | None
) -> Level:
    """The level of account ``user_id`` on a realm owned by ``owner_id``
    where it was ``granted`` a level (or not)."""
    if is_admin or owner_id == user_id:
        return Level.ADMIN
    if granted is None:
        return Level.NONE
    return Level[granted.upper()]
