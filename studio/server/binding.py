"""Binds of a sync connection: who may bind which realm, with which client
file ident (owner, realm and salt; idents.py), within the user's quotas. The
connection (connection.py) mixes this in; it owns the state used here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from studio.server import idents
from studio.server.accounts import BindRefused
from studio.server.logs import log
from studio.server.permissions import Level
from studio.server.storage.base import UserRecord
from studio.server.storage.errors import StorageError
from studio.sync.protocol import (
    BindRequested,
    ConnectionState,
    ErrorCode,
    ServerConnection,
    SessionState,
)

if TYPE_CHECKING:
    from studio.server.connection import SyncConnection
    from studio.server.context import ServerContext
    from studio.server.realms import LoadedRealm


@dataclass(slots=True)
class BoundSession:
    session: int
    path: str
    realm: LoadedRealm
    user: str
    level: Level
    client_file_ident: int


class BindHandling:
    """The bind half of :class:`~studio.server.connection.SyncConnection`."""

    ctx: ServerContext
    sc: ServerConnection
    id: int
    agent: str
    binds: int
    requested: dict[int, str]
    """Session id -> the path its bind asked for (for error reports)."""
    sessions: dict[int, BoundSession]
    users: list[str]
    _closing: bool
    _end: Callable[[ErrorCode, str], None]

    async def _on_bind(self, event: BindRequested) -> None:
        ctx = self.ctx
        self.binds += 1
        self.requested[event.session] = event.path
        if self.binds > ctx.config.limits.max_sessions:
            self._end(
                ErrorCode.LIMITS_EXCEEDED,
                f"more than {ctx.config.limits.max_sessions} sessions on one connection",
            )
            return
        try:
            grant = await ctx.accounts.authorize_bind(event.token, event.path)
            realm = await ctx.hub.acquire(grant.path)
        except BindRefused as exc:
            self._reject(event.session, exc.code, exc.message)
            return
        except StorageError as exc:
            log(40, "realm_unavailable", path=event.path, error=str(exc))
            self._reject(
                event.session,
                ErrorCode.OTHER_SESSION_ERROR,
                "the realm cannot be opened right now; try again later",
            )
            return
        new_client = event.client_file_ident == 0
        if new_client and not await self._ident_allowed(grant.user, event.session):
            ctx.hub.release(realm)
            return
        if ctx.cluster is not None:
            # Another process may have stored versions and idents this
            # history has not heard of yet (the client may come from there).
            try:
                await ctx.cluster.catch_up(realm)
            except StorageError as exc:
                log(40, "realm_unavailable", path=event.path, error=str(exc))
                ctx.hub.release(realm)
                self._reject(
                    event.session,
                    ErrorCode.OTHER_SESSION_ERROR,
                    "the realm cannot be opened right now; try again later",
                )
                return
        if self._closing or self.sc.state is not ConnectionState.OPEN or realm.failed:
            ctx.hub.release(realm)
            return
        user = grant.user.username
        requested = event.client_file_ident
        salt = idents.new_salt()  # for a new ident
        adopted = None
        if requested != 0 and realm.history.knows_file_ident(requested):
            # (An ident the history does not know is refused by the protocol.)
            try:
                adopted = idents.check_claim(
                    realm.idents.get(requested),
                    requested,
                    event.client_file_salt,
                    grant.user,
                    grant.path,
                )
            except idents.IdentRefused as exc:
                ctx.hub.release(realm)
                self._reject(event.session, ErrorCode.CLIENT_FILE_IDENT_MISMATCH, str(exc))
                return
            # The client's own salt (checked), or the one an old ident gets now.
            salt = event.client_file_salt if adopted is None else adopted.salt or salt
        allocated = 0
        if requested == 0 and ctx.cluster is not None:
            # Allocated (and stored) in the shared store: never twice.
            try:
                allocated = await ctx.cluster.new_ident(realm, idents.issue(0, grant.user, salt))
            except StorageError as exc:
                log(40, "ident_unavailable", path=event.path, error=str(exc))
                ctx.hub.release(realm)
                self._reject(
                    event.session,
                    ErrorCode.OTHER_SESSION_ERROR,
                    "the server cannot store a new client now",
                )
                return
            if self._closing or self.sc.state is not ConnectionState.OPEN or realm.failed:
                ctx.hub.release(realm)
                return
        writable = grant.level >= Level.WRITE
        # Read-only: the protocol refuses uploads before they reach the history.
        denied = f"{user} may only read {grant.path}; the upload was refused"
        if not self.sc.accept_bind(
            event.session,
            realm.history,
            can_upload=writable,
            upload_denied=denied,
            encoded=realm.encoded,
            client_file_salt=salt,
            check_upload=realm.check_upload,
            new_file_ident=allocated,
        ):
            ctx.hub.release(realm)  # the client unbound while we were deciding
            return
        if self.sc.session_state(event.session) is not SessionState.BOUND:
            ctx.hub.release(realm)  # refused by the protocol (unknown ident, bad cursors)
            return
        ident = self.sc.client_file_ident(event.session)
        if (requested == 0 and not allocated) or adopted is not None:
            # Stored before the ident message (with its salt) leaves.
            realm.add_ident(adopted or idents.issue(ident, grant.user, salt))
            ctx.committer.note(realm)
        self.sessions[event.session] = BoundSession(
            event.session, grant.path, realm, user, grant.level, ident
        )
        # This half is only ever part of a SyncConnection.
        realm.attach(cast("SyncConnection", self), event.session)
        if user not in self.users:
            self.users.append(user)
        log(
            20,
            "session_bound",
            connection=self.id,
            session=event.session,
            realm=grant.path,
            user=user,
            client=ident,
            access=grant.level.label,
        )
        ctx.bus.publish(
            "session_bound",
            connection=self.id,
            session=event.session,
            realm=grant.path,
            user=user,
            client=ident,
            access=grant.level.label,
            agent=self.agent,
        )

    async def _ident_allowed(self, user: UserRecord, session: int) -> bool:
        """Count a new client file ident against the user's quota (server
        admins are exempt); a refusal is sent to the session."""
        if user.is_admin:
            return True
        ctx = self.ctx
        limit = ctx.config.limits.max_idents_per_user
        try:
            allowed = await ctx.run(ctx.storage.reserve_client_ident, user.user_id, limit)
        except StorageError as exc:
            log(40, "quota_unavailable", user=user.username, error=str(exc))
            self._reject(
                session, ErrorCode.OTHER_SESSION_ERROR, "the server cannot store a new client now"
            )
            return False
        if not allowed:
            log(30, "quota_exceeded", user=user.username, what="client idents", limit=limit)
            self._reject(
                session,
                ErrorCode.QUOTA_EXCEEDED,
                f"{user.username} was issued {limit} client file idents, the most allowed "
                "(--max-idents-per-user): reuse existing local realms instead of new ones, "
                "or ask an admin",
            )
        return allowed

    def _reject(self, session: int, code: ErrorCode, message: str) -> None:
        if self.sc.state is not ConnectionState.OPEN:
            return
        if self.sc.session_state(session) is SessionState.BINDING:
            self.sc.reject_bind(session, code, message)
        log(
            30,
            "bind_refused",
            connection=self.id,
            session=session,
            path=self.requested.get(session),
            code=int(code),
            message=message,
        )
