"""Identities: client file idents belong to one account and realm (salted),
a deleted account's tokens and realms never come back, and tokens have one
spelling (issue 12, "Identities")."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from server_harness import (
    SCHEMA,
    RawClient,
    admin_token,
    call,
    grant,
    item,
    login,
    make_user,
    running_server,
    until,
)

from studio.core import Realm
from studio.core.synced import get_sync_value
from studio.server import idents
from studio.server.auth import TokenSigner
from studio.server.errors import TokenError
from studio.server.storage.base import ClientIdent, UserRecord
from studio.server.storage.sqlite import SqliteServerStorage
from studio.sync.client import App, SyncConfig
from studio.sync.client_history import ClientHistory
from studio.sync.protocol import ErrorCode

SHARED = "/shared/team"


async def refused(url: str, token: str, path: str, history: ClientHistory) -> Any:
    """Bind ``path`` as ``history`` (ident and salt); the error it gets."""
    client = RawClient(url, token, path, "probe")
    client.history = history
    await client.connect()
    await until(lambda: bool(client.errors) or client.bound, what="bind answer")
    await client.close()
    assert not client.bound, f"{path} should have been refused"
    return client.errors[0]


def copy_of(history: ClientHistory, *, salt: int | None = None) -> ClientHistory:
    """What someone who knows (or guesses) this realm file's ident would bind with."""
    return ClientHistory(
        history.client_file_ident,
        last_integrated_server_version=history.last_integrated_server_version,
        last_acked_client_version=history.last_acked_client_version,
        client_file_salt=history.client_file_salt if salt is None else salt,
    )


async def team(url: str) -> tuple[str, str, str]:
    admin = await admin_token(url)
    alice = await make_user(url, admin, "alice")
    mallory = await make_user(url, admin, "mallory")
    for name in ("alice", "mallory"):
        await grant(url, admin, SHARED, name, "write")
    return admin, alice, mallory


def test_a_stolen_ident_is_refused_and_its_owner_goes_on(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin, alice_token, mallory_token = await team(url)
            alice = await RawClient(url, alice_token, SHARED, "alice").connect()
            await alice.wait_bound()
            await alice.commit(SCHEMA)
            await alice.sync()
            ident, salt = alice.history.client_file_ident, alice.history.client_file_salt
            assert ident >= 1 and 0 < salt < 2**63

            # mallory binds with alice's ident, guessing the salt or sending none.
            for guess in (0, salt + 1):
                stolen = copy_of(alice.history, salt=guess)
                error = await refused(url, mallory_token, SHARED, stolen)
                assert error.code == ErrorCode.CLIENT_FILE_IDENT_MISMATCH
                assert error.try_again is False
                assert "another user" in error.message and "reset" in error.message
            # ... even with the right salt: the ident is alice's account's.
            error = await refused(url, mallory_token, SHARED, copy_of(alice.history))
            assert error.code == ErrorCode.CLIENT_FILE_IDENT_MISMATCH

            # alice is unaffected: still bound, her writes are acknowledged,
            # and she binds again with her ident after a reconnect.
            assert alice.errors == []
            await alice.commit(item(1, "still mine"))
            await alice.sync()
            await alice.close()
            again = RawClient(url, alice_token, SHARED, "alice again")
            again.history = alice.history
            await again.connect()
            await again.wait_bound()
            assert again.history.client_file_ident == ident
            assert again.history.client_file_salt == salt
            await again.close()

            # Nothing mallory sent was stored under alice's identity.
            _, history = await call(
                url, "GET", f"/admin/realms/history?path={SHARED}", token=admin
            )
            assert {c["user"] for c in history["changesets"]} == {"alice"}

    asyncio.run(body())


def test_a_wrong_salt_is_refused(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            _, alice_token, _ = await team(url)
            alice = await RawClient(url, alice_token, SHARED, "alice").connect()
            await alice.wait_bound()
            await alice.close()
            salt = alice.history.client_file_salt
            for wrong in (0, salt ^ 1, 2**64 - 1):
                error = await refused(url, alice_token, SHARED, copy_of(alice.history, salt=wrong))
                assert error.code == ErrorCode.CLIENT_FILE_IDENT_MISMATCH, wrong
                assert error.try_again is False

    asyncio.run(body())


def test_an_ident_of_another_realm_is_refused(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            _, alice_token, _ = await team(url)
            one = await RawClient(url, alice_token, "/~/one", "one").connect()
            two = await RawClient(url, alice_token, "/~/two", "two").connect()
            await one.wait_bound()
            await two.wait_bound()
            await one.close()
            await two.close()
            # Idents count per realm: both files are ident 1, with their own salts.
            assert one.history.client_file_ident == two.history.client_file_ident == 1
            assert one.history.client_file_salt != two.history.client_file_salt
            error = await refused(url, alice_token, "/~/two", copy_of(one.history))
            assert error.code == ErrorCode.CLIENT_FILE_IDENT_MISMATCH
            assert "salt" in error.message

    asyncio.run(body())


def test_a_deleted_account_never_comes_back(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin = await admin_token(url)
            status, old = await call(
                url, "POST", "/admin/users", {"username": "frank", "password": "pw"}, admin
            )
            assert status == 201
            status, tokens = await call(
                url, "POST", "/auth/login", {"username": "frank", "password": "pw"}
            )
            assert status == 200
            old_access, old_refresh = tokens["access_token"], tokens["refresh_token"]
            diary = await RawClient(url, old_access, "/~/diary", "frank").connect()
            await diary.wait_bound()
            await diary.commit(SCHEMA)
            await diary.sync()
            await diary.close()
            await grant(url, admin, SHARED, "frank", "write")

            assert (await call(url, "DELETE", "/admin/users/frank", token=admin))[0] == 204
            new_access = await make_user(url, admin, "frank")

            # The old tokens are refused (HTTP, refresh, bind)...
            status, err = await call(
                url, "GET", "/admin/permissions?path=/~/diary", token=old_access
            )
            assert status == 401 and err["error"]["code"] == "invalid_token"
            assert "no longer exists" in err["error"]["message"]
            status, err = await call(
                url, "POST", "/auth/refresh", {"refresh_token": old_refresh}
            )
            assert status == 401 and err["error"]["code"] == "invalid_token"
            error = await refused(url, old_access, "/~/diary", ClientHistory())
            assert error.code == ErrorCode.BAD_AUTHENTICATION

            # ... and the new frank has nothing of the old one: no realms, no grants.
            _, users = await call(url, "GET", "/admin/users", token=admin)
            frank = next(u for u in users["users"] if u["username"] == "frank")
            assert frank["realms"] == []
            for path in ("/~/diary", "/u/frank/diary", SHARED):
                error = await refused(url, new_access, path, ClientHistory())
                assert error.code == ErrorCode.PERMISSION_DENIED, path
            status, _ = await call(
                url, "GET", "/admin/permissions?path=/~/diary", token=new_access
            )
            assert status == 403
            _, realms = await call(url, "GET", "/admin/realms", token=admin)
            owners = {r["path"]: r["owner"] for r in realms["realms"]}
            assert owners["/u/frank/diary"] is None  # its owner was deleted
            # A realm the new frank creates is his.
            mine = await RawClient(url, new_access, "/~/fresh", "new frank").connect()
            await mine.wait_bound()
            await mine.close()
            _, realms = await call(url, "GET", "/admin/realms", token=admin)
            owners = {r["path"]: r["owner"] for r in realms["realms"]}
            assert owners["/u/frank/fresh"] == "frank"
            assert old["username"] == "frank"

    asyncio.run(body())


def _flip_unused_bits(part: str) -> str | None:
    """The same bytes spelled differently: the last character of unpadded
    base64 has unused low bits when the length is not a multiple of 4."""
    unused = {2: 4, 3: 2}.get(len(part) % 4)
    if unused is None:
        return None
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(part[-1])
    return part[:-1] + alphabet[index ^ 1]


def non_canonical_spellings(token: str) -> list[str]:
    body, signature = token.split(".")
    out = [
        token + "=",
        body + "." + signature + "==",
        body + "=." + signature,
        " " + token,
        token + "\n",
        body + ".\t" + signature,
        body + "." + signature[:10] + "*" + signature[10:],
        body + "." + signature[:10] + "\n" + signature[10:],
        body + "." + signature + "A",
    ]
    flipped = _flip_unused_bits(signature)
    assert flipped is not None  # 32 bytes: 43 characters, 2 unused bits
    out.append(body + "." + flipped)
    return out


def test_tokens_have_one_spelling() -> None:
    signer = TokenSigner(b"k" * 32)
    for name in ("ann", "anna", "annab"):  # body lengths with and without unused bits
        token = signer.issue(name, "id-" + name, False, "access", 60, 0, now=1000)
        assert signer.verify(token, "access", now=1001).sub == name
        spellings = non_canonical_spellings(token)
        body, signature = token.split(".")
        flipped_body = _flip_unused_bits(body)
        if flipped_body is not None:
            spellings.append(flipped_body + "." + signature)
        for spelling in spellings:
            assert spelling != token
            with pytest.raises(TokenError):
                signer.verify(spelling, "access", now=1001)


def test_non_canonical_tokens_are_refused_by_the_server(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin = await admin_token(url)
            assert (await call(url, "GET", "/admin/users", token=admin))[0] == 200
            for spelling in non_canonical_spellings(admin):
                if any(c.isspace() for c in spelling):
                    continue  # not sendable in an HTTP header (the unit test covers them)
                status, _ = await call(url, "GET", "/admin/users", token=spelling)
                assert status == 401, spelling
            assert (await refused(url, admin + "=", SHARED, ClientHistory())).code == (
                ErrorCode.BAD_AUTHENTICATION
            )

    asyncio.run(body())


# ---------------------------------------------------------------------------- upgrades


OLD_SERVER_DDL = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value)",
    """CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0, suspended INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL, token_generation INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE realms (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE,
        owner TEXT, created REAL NOT NULL, file TEXT NOT NULL)""",
    """CREATE TABLE permissions (path TEXT NOT NULL, username TEXT NOT NULL,
        level TEXT NOT NULL, PRIMARY KEY (path, username))""",
    "INSERT INTO meta VALUES ('format', 'studio-server-1')",
    "INSERT INTO users VALUES ('admin', 'x', 1, 0, 1.0, 0), ('ann', 'x', 0, 0, 1.0, 0)",
    "INSERT INTO realms (path, owner, created, file) VALUES "
    "('/u/ann/notes', 'ann', 1.0, '000001-u~ann~notes.realm'), "
    "('/u/gone/old', 'gone', 1.0, '000002-u~gone~old.realm')",
    "INSERT INTO permissions VALUES ('/shared/x', 'ann', 'read'), ('/shared/x', 'gone', 'write')",
)


def test_a_data_directory_from_before_account_ids_is_upgraded(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "server.sqlite")
    for sql in OLD_SERVER_DDL:
        conn.execute(sql)
    conn.commit()
    conn.close()
    seen: list[dict[str, str]] = []
    for _ in range(2):  # opening it again changes nothing
        storage = SqliteServerStorage(tmp_path, state_in_process=True)
        try:
            ann = storage.get_user("ann")
            assert ann is not None and ann.user_id
            assert storage.get_user_by_id(ann.user_id) == ann
            realms = {r.path: r for r in storage.list_realms()}
            assert realms["/u/ann/notes"].owner_id == ann.user_id
            assert realms["/u/ann/notes"].owner == "ann"
            assert realms["/u/gone/old"].owner is None  # the user no longer exists
            assert storage.list_permissions("/shared/x") == [("ann", "read")]
            assert storage.get_permission("/shared/x", ann.user_id) == "read"
            seen.append({u.username: u.user_id for u in storage.list_users()})
        finally:
            storage.close()
    assert seen[0] == seen[1]


def test_idents_from_before_salts_are_adopted_by_their_owner_only(tmp_path: Path) -> None:
    async def first_run() -> tuple[ClientHistory, str]:
        async with running_server(tmp_path) as server:
            url = server.url
            _, alice_token, _ = await team(url)
            alice = await RawClient(url, alice_token, SHARED, "alice").connect()
            await alice.wait_bound()
            await alice.commit(SCHEMA)
            await alice.sync()
            await alice.close()
            return alice.history, url

    history, _ = asyncio.run(first_run())
    # Make the stored ident and the client's file look like before salts.
    (realm_file,) = (tmp_path / "realms").glob("*team.realm")
    conn = sqlite3.connect(realm_file)
    conn.execute("UPDATE _server_clients SET user_id = NULL, salt = NULL")
    conn.commit()
    conn.close()
    history.client_file_salt = 0

    async def second_run() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            alice_token = await login(url, "alice", "pw")
            mallory_token = await login(url, "mallory", "pw")
            # Somebody else cannot adopt it.
            error = await refused(url, mallory_token, SHARED, copy_of(history))
            assert error.code == ErrorCode.CLIENT_FILE_IDENT_MISMATCH
            # Its owner binds as before and is given a salt...
            alice = RawClient(url, alice_token, SHARED, "alice")
            alice.history = history
            await alice.connect()
            await alice.wait_bound()
            salt = history.client_file_salt
            assert salt > 0
            await alice.commit(item(2, "after the upgrade"))
            await alice.sync()
            await alice.close()
            # ... which is required from then on.
            error = await refused(url, alice_token, SHARED, copy_of(history, salt=0))
            assert error.code == ErrorCode.CLIENT_FILE_IDENT_MISMATCH
            again = RawClient(url, alice_token, SHARED, "alice again")
            again.history = history
            await again.connect()
            await again.wait_bound()
            await again.close()

    asyncio.run(second_run())


# ---------------------------------------------------------------------------- the sync client


def test_the_sync_client_keeps_its_salt_in_the_realm_file(tmp_path: Path) -> None:
    """studio.sync.client stores the salt next to the ident (in the realm
    file's sync metadata) and binds with it after reopening."""
    notes = [{"name": "Note", "primaryKey": "_id", "properties": {"_id": "string"}}]

    async def body() -> None:
        async with running_server(tmp_path / "server") as server:
            url = server.url
            admin = await admin_token(url)
            for name in ("alice", "mallory"):
                await make_user(url, admin, name)
                await grant(url, admin, SHARED, name, "write")
            config = SyncConfig(reconnect_initial=0.05, reconnect_max=0.5, watch_files=False)
            local = tmp_path / "alice.realm"
            app = App(url, config=config, base_dir=tmp_path / "a")
            user = await app.login("alice", "pw")
            realm = await app.open_realm(user, SHARED, path=local, schema=notes)
            await realm.sync_session.wait_for_upload_completion(10)
            ident = realm.sync_session.client_file_ident
            await app.close()
            stored = Realm.open(local)
            salt = int(get_sync_value(stored, "client_file_salt", "0") or 0)
            assert int(get_sync_value(stored, "client_file_ident", "0") or 0) == ident
            stored.close()
            assert 0 < salt < 2**63
            conn = sqlite3.connect(next((tmp_path / "server" / "realms").glob("*team.realm")))
            row = conn.execute("SELECT salt FROM _server_clients WHERE ident = ?", (ident,))
            assert row.fetchone()[0] == salt
            conn.close()

            # Reopened: binds with the stored ident and salt.
            app = App(url, config=config, base_dir=tmp_path / "a")
            user = await app.login("alice", "pw")
            errors: list[Any] = []
            realm = await app.open_realm(
                user, SHARED, path=local, on_error=lambda s, e: errors.append(e)
            )
            with realm.write():
                realm.create("Note", {"_id": "after reopening"})
            await realm.sync_session.wait_for_upload_completion(10)
            assert realm.sync_session.client_file_ident == ident and errors == []
            await app.close()

    asyncio.run(body())


def test_a_grant_to_a_name_without_an_account_goes_to_the_next_account_of_that_name(
    tmp_path: Path,
) -> None:
    # A realm's own admin may grant a name without learning whether it has an
    # account (docs/security.md); the grant then waits for that name.
    storage = SqliteServerStorage(tmp_path, state_in_process=True)
    try:
        storage.set_permission("/shared/x", "ghost", "read")
        assert storage.list_permissions("/shared/x") == [("ghost", "read")]
        ghost = UserRecord("ghost", "hash", False, False, 0.0)
        storage.create_user(ghost)
        assert storage.get_permission("/shared/x", ghost.user_id) == "read"
        assert storage.list_permissions("/shared/x") == [("ghost", "read")]
        # Deleting the account drops its grants: a new "ghost" starts with none.
        storage.delete_user("ghost")
        again = UserRecord("ghost", "hash", False, False, 0.0)
        storage.create_user(again)
        assert storage.get_permission("/shared/x", again.user_id) is None
        # Revoking a waiting grant removes it.
        storage.set_permission("/shared/y", "nobody", "write")
        assert storage.revoke_permission("/shared/y", "nobody")
        assert storage.list_permissions("/shared/y") == []
    finally:
        storage.close()


def test_check_claim_decides_every_case() -> None:
    ann = UserRecord("ann", "h", False, False, 1.0)
    bob = UserRecord("bob", "h", False, False, 1.0)
    issued = idents.issue(3, ann, 12345)
    assert idents.check_claim(issued, 3, 12345, ann, "/p") is None  # the owner, the salt
    for record, salt, user, why in [
        (issued, 12345, bob, "another user"),
        (issued, 12346, ann, "salt"),
        (issued, 0, ann, "salt"),
        (None, 0, ann, "no recorded owner"),
        (ClientIdent(3, "bob", None, None), 0, ann, "another user"),  # before salts
        (ClientIdent(3, "", None, None), 0, ann, "another user"),
        (ClientIdent(3, "ann", None, None), 5, ann, "no salt yet"),
    ]:
        with pytest.raises(idents.IdentRefused, match=why):
            idents.check_claim(record, 3, salt, user, "/p")
    adopted = idents.check_claim(ClientIdent(3, "ann", None, None), 3, 0, ann, "/p")
    assert adopted is not None and adopted.user_id == ann.user_id
    assert adopted.salt is not None and 0 < adopted.salt < 2**63
    assert len({idents.new_salt() for _ in range(100)}) == 100
