"""Client file idents: whom each was issued to, and whether a bind may use one.

A client file ident is a small number counted up per realm, so anybody can
guess one. Each is therefore tied to the account it was issued to (by
account id, so a deleted and re-created name is not the same owner) and to
a random 63-bit salt issued with it in the ``ident`` message (as Realm does);
the realm it belongs to is the realm whose storage holds it. A bind that
names an ident must come from that account and carry that salt, otherwise it
is refused with ``client_file_ident_mismatch`` (not retryable: the realm
file has to be reset to get an identity of its own).

Upgrade: an ident stored before salts (no account id, no salt) is adopted by
its first bind from the user whose name it was issued to, which gets a salt
then (sent in ``ident``, stored by the client); a bind from anybody else is
refused.
"""

from __future__ import annotations

import secrets
from typing import Final

from studio.server.errors import ServerError
from studio.server.storage.base import ClientIdent, UserRecord

_SALT_LIMIT: Final = 2**63 - 1


class IdentRefused(ServerError):
    """A bind's client file ident is not the binding user's (or its salt is wrong)."""


def new_salt() -> int:
    """A salt for a new ident: random, never 0 (0 means "no salt")."""
    return secrets.randbelow(_SALT_LIMIT) + 1


def issue(ident: int, user: UserRecord, salt: int) -> ClientIdent:
    return ClientIdent(ident, user.username, user.user_id, salt)


def check_claim(
    record: ClientIdent | None, ident: int, salt: int, user: UserRecord, path: str
) -> ClientIdent | None:
    """Whether ``user`` may bind ``path`` as client file ``ident`` with
    ``salt``, given what was stored when the ident was issued (``record``).

    Returns the record to store when an ident from before salts is adopted
    now (its new salt goes to the client), else None. Raises
    :class:`IdentRefused` saying what to do.
    """
    reset = "reset the local realm file to get an identity of its own"
    if record is None:
        raise IdentRefused(
            f"client file ident {ident} of {path} has no recorded owner; {reset}"
        )
    if record.user_id is None:
        if not record.user or record.user != user.username:
            raise IdentRefused(
                f"client file ident {ident} of {path} was issued to another user; {reset}"
            )
        if salt != 0:
            raise IdentRefused(f"client file ident {ident} of {path} has no salt yet; {reset}")
        return issue(ident, user, new_salt())
    if record.user_id != user.user_id:
        raise IdentRefused(
            f"client file ident {ident} of {path} was issued to another user; {reset}"
        )
    expected = record.salt or 0
    if not secrets.compare_digest(str(salt).encode(), str(expected).encode()):
        raise IdentRefused(
            f"the salt sent with client file ident {ident} of {path} is not the one issued "
            f"with it (a copy of another realm file, or of another realm?); {reset}"
        )
    return None
