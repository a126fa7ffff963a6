"""Users as the server sees them: logging in, refreshing tokens, checking
the token of an HTTP request or of a sync ``bind``, and deciding the level a
user has on a realm."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from studio.server.auth import TokenSigner, burn_verification_time, hash_password, verify_password
from studio.server.config import ServerConfig
from studio.server.errors import (
    BadRequest,
    Forbidden,
    InvalidPath,
    ServerError,
    TokenError,
    Unauthorized,
)
from studio.server.logs import log
from studio.server.paths import owner_of, resolve_path, validate_username
from studio.server.permissions import Level, effective_level
from studio.server.realms import Runner
from studio.server.secret_files import read_token_key
from studio.server.storage.base import RealmRecord, ServerStorage, UserRecord
from studio.server.storage.errors import AlreadyExists, QuotaExceeded
from studio.sync.protocol import ErrorCode

ADMIN_USER = "admin"

Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``; tests pass a fake one)."""


class BindRefused(ServerError):
    """A bind is refused with protocol error ``code``."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class BindGrant:
    user: UserRecord
    path: str
    """Canonical realm path."""
    level: Level


def user_json(user: UserRecord, realms: list[dict[str, str]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "username": user.username,
        "is_admin": user.is_admin,
        "suspended": user.suspended,
        "created": user.created,
    }
    if realms is not None:
        out["realms"] = realms
    return out


class Accounts:
    def __init__(
        self,
        config: ServerConfig,
        storage: ServerStorage,
        run: Runner,
        clock: Clock = time.time,
    ) -> None:
        self._config = config
        self._storage = storage
        self._run = run
        self._clock = clock
        self._signer: TokenSigner | None = None

    async def start(self) -> str | None:
        """Load the signing key; create ``admin`` on first start. Returns the
        generated admin password when one had to be made up."""
        key_file = self._config.token_key_file
        if key_file is None:
            key = await self._run(self._storage.token_key)
        else:
            key = await self._run(read_token_key, key_file)
        self._signer = TokenSigner(key)
        if await self._run(self._storage.count_users) > 0:
            return None
        password = self._config.admin_password
        generated = None
        if not password:
            password = generated = secrets.token_urlsafe(18)
        hashed = await self._run(hash_password, password, self._config.scrypt_n)
        try:
            await self._run(
                self._storage.create_user,
                UserRecord(ADMIN_USER, hashed, True, False, self._clock()),
            )
        except AlreadyExists:  # another process created it in between
            return None
        log(20, "admin_created", user=ADMIN_USER, generated_password=generated is not None)
        return generated

    @property
    def signer(self) -> TokenSigner:
        assert self._signer is not None, "Accounts.start() first"
        return self._signer

    # ------------------------------------------------------------------ tokens

    def issue(self, user: UserRecord) -> dict[str, Any]:
        now = self._clock()
        cfg = self._config
        return {
            "access_token": self.signer.issue(
                user.username,
                user.user_id,
                user.is_admin,
                "access",
                cfg.access_token_ttl,
                user.token_generation,
                now,
            ),
            "refresh_token": self.signer.issue(
                user.username,
                user.user_id,
                user.is_admin,
                "refresh",
                cfg.refresh_token_ttl,
                user.token_generation,
                now,
            ),
            "expires_in": cfg.access_token_ttl,
            "user": {"username": user.username, "is_admin": user.is_admin},
        }

    async def login(self, username: object, password: object) -> dict[str, Any]:
        if not isinstance(username, str) or not isinstance(password, str):
            raise Unauthorized("username and password must be strings", code="bad_credentials")
        user = await self._run(self._storage.get_user, username)
        if user is None:
            await self._run(burn_verification_time, password, self._config.scrypt_n)
            raise Unauthorized("wrong username or password", code="bad_credentials")
        if not await self._run(verify_password, password, user.password_hash):
            raise Unauthorized("wrong username or password", code="bad_credentials")
        if user.suspended:
            raise Forbidden(f"user {username!r} is suspended; ask an admin", code="suspended")
        return self.issue(user)

    async def refresh(self, token: object) -> dict[str, Any]:
        user = await self._user_for(token, "refresh")
        return self.issue(user)

    async def authenticate(self, token: object) -> UserRecord:
        """The user an HTTP request's access token stands for."""
        return await self._user_for(token, "access")

    async def _user_for(self, token: object, typ: str) -> UserRecord:
        try:
            claims = self.signer.verify(token, typ, self._clock())
        except TokenError as exc:
            raise Unauthorized(exc.message, code=exc.code) from None
        # By id, not by name: the account this token was issued to may have
        # been deleted and its name given to a new account since.
        user = await self._run(self._storage.get_user_by_id, claims.uid)
        if user is None:
            raise Unauthorized(
                f"the account {claims.sub!r} this token was issued to no longer exists; "
                "log in again",
                code="invalid_token",
            )
        if claims.gen != user.token_generation:
            raise Unauthorized(
                "the password changed since this token was issued; log in again",
                code="invalid_token",
            )
        if user.suspended:
            raise Forbidden(f"user {user.username!r} is suspended; ask an admin", code="suspended")
        return user

    # ------------------------------------------------------------------ realms

    async def level(self, user: UserRecord, path: str, record: RealmRecord | None = None) -> Level:
        """The level of ``user`` on the realm at canonical ``path`` (its
        registry ``record`` if the caller has it at hand)."""
        if user.is_admin:
            return Level.ADMIN
        if record is None:
            record = await self._run(self._storage.get_realm, path)
        if record is not None:
            owner_id = record.owner_id
        else:  # whoever creates /u/<name>/... as <name> will own it
            owner_id = user.user_id if owner_of(path) == user.username else None
        granted = None
        if owner_id != user.user_id:
            granted = await self._run(self._storage.get_permission, path, user.user_id)
        return effective_level(user.user_id, user.is_admin, owner_id, granted)

    async def authorize_bind(self, token: str, path: str) -> BindGrant:
        """Check a ``bind``: token, user, path, permission, and that the realm
        exists (server admins and owners create it by binding)."""
        try:
            user = await self._user_for(token, "access")
        except Unauthorized as exc:
            code = (
                ErrorCode.TOKEN_EXPIRED
                if exc.code == "token_expired"
                else (ErrorCode.BAD_AUTHENTICATION)
            )
            raise BindRefused(code, exc.message) from None
        except Forbidden as exc:
            raise BindRefused(ErrorCode.BAD_AUTHENTICATION, exc.message) from None
        try:
            canonical = resolve_path(path, user.username)
        except InvalidPath as exc:
            raise BindRefused(ErrorCode.ILLEGAL_REALM_PATH, str(exc)) from None
        record = await self._run(self._storage.get_realm, canonical)
        level = await self.level(user, canonical, record)
        if level < Level.READ:
            raise BindRefused(
                ErrorCode.PERMISSION_DENIED,
                f"{user.username} has no permission on {canonical}; ask an admin for one",
            )
        if record is None:
            if level < Level.ADMIN:
                raise BindRefused(ErrorCode.NO_SUCH_REALM, f"there is no realm {canonical}")
            # Server admins are exempt from the quota (they are the operators).
            quota = None if user.is_admin else self._config.limits.max_realms_per_user
            try:
                await self._run(
                    functools.partial(
                        self._storage.create_realm,
                        canonical,
                        owner_of(canonical),
                        owner_limit=quota,
                    )
                )
                log(20, "realm_created", realm=canonical, by=user.username)
            except AlreadyExists:
                pass  # created by a concurrent bind
            except QuotaExceeded as exc:
                log(30, "quota_exceeded", user=user.username, realm=canonical, what="realms")
                raise BindRefused(ErrorCode.QUOTA_EXCEEDED, str(exc)) from None
        return BindGrant(user, canonical, level)


def check_new_username(name: object) -> str:
    try:
        return validate_username(name)
    except InvalidPath as exc:
        raise BadRequest(str(exc)) from None
