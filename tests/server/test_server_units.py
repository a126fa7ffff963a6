"""Server building blocks without a network: paths, tokens, passwords,
metrics, storage and the history rebuild."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from server_harness import SCHEMA, item

from studio.core.describe import describe
from studio.primitives.instructions import Changeset
from studio.server.auth import TokenSigner, hash_password, verify_password
from studio.server.config import parse_config
from studio.server.errors import ConfigError, InvalidPath, TokenError
from studio.server.metrics import Metrics
from studio.server.paths import file_stem, owner_of, resolve_path, validate_username
from studio.server.permissions import Level, effective_level
from studio.server.realms import build_history
from studio.server.storage.base import ClientIdent, RealmWrite, StoredEntry, UserRecord
from studio.server.storage.errors import AlreadyExists
from studio.server.storage.sqlite import SqliteServerStorage
from studio.sync.history import ServerHistory


def test_paths() -> None:
    assert resolve_path("/~/chat", "ann") == "/u/ann/chat"
    assert resolve_path("/shared/a.b-c_d/e", "ann") == "/shared/a.b-c_d/e"
    assert owner_of("/u/ann/chat") == "ann" and owner_of("/shared/x") is None
    for bad, why in [
        ("/shared/../x", "'.' or '..'"),
        ("/shared/./x", "'.' or '..'"),
        ("/shared/x\x00", "control character"),
        ("/shared/\x7f", "control character"),
        ("shared/x", "starts with '/'"),
        ("/shared//x", "empty"),
        ("/shared/x/", "empty"),
        ("/shared/x y", "' '"),
        ("/shared/%2e%2e", "'%'"),
        ("/shared\\x", "contains"),
        ("/" + "a" * 300, "at most 256"),
        ("/u/ann", "user's realm"),
        ("", "non-empty"),
        ("/~/x/\u202e", "contains"),
    ]:
        with pytest.raises(InvalidPath, match=why):
            resolve_path(bad, "ann")
    with pytest.raises(InvalidPath):
        resolve_path("/~/x", None)
    assert validate_username("ann.b-c_1") == "ann.b-c_1"
    for bad in ("", "..", "a/b", "x" * 65, "é"):
        with pytest.raises(InvalidPath):
            validate_username(bad)
    assert file_stem("/shared/x", 7) != file_stem("/shared~x", 8)


def test_levels() -> None:
    # Accounts by id: the owner's id, an admin, anybody else, a grant.
    assert effective_level("id-ann", False, "id-ann", None) is Level.ADMIN
    assert effective_level("id-bob", True, "id-ann", None) is Level.ADMIN
    assert effective_level("id-bob", False, "id-ann", None) is Level.NONE
    assert effective_level("id-bob", False, None, "read") is Level.READ
    assert Level.READ < Level.WRITE < Level.ADMIN


def test_passwords_and_tokens() -> None:
    stored = hash_password("secret", 2**10)
    assert stored.startswith("scrypt$1024$")
    assert verify_password("secret", stored) and not verify_password("Secret", stored)
    assert stored != hash_password("secret", 2**10)  # per-user salt
    assert not verify_password("x", "garbage")

    signer = TokenSigner(b"k" * 32)
    token = signer.issue("ann", "id-ann", False, "access", 60, 3, now=1000)
    claims = signer.verify(token, "access", now=1030)
    assert (claims.sub, claims.uid, claims.adm, claims.gen) == ("ann", "id-ann", False, 3)
    with pytest.raises(TokenError) as exc:
        signer.verify(token, "access", now=1061)
    assert exc.value.code == "token_expired"
    with pytest.raises(TokenError, match="type refresh"):
        signer.verify(token, "refresh", now=1000)
    with pytest.raises(TokenError, match="signature"):
        TokenSigner(b"x" * 32).verify(token, "access", now=1000)
    body, sig = token.split(".")
    with pytest.raises(TokenError):
        signer.verify(body[:-2] + "xx." + sig, "access", now=1000)
    for junk in ("", "a.b.c", None, 5, "é.é"):
        with pytest.raises(TokenError):
            signer.verify(junk, "access", now=1000)


def test_metrics_text_format() -> None:
    metrics = Metrics(lambda: 2, lambda: 3, lambda: 1, lambda: 0)
    metrics.uploads.inc(5)
    metrics.errors.inc(label="bad_syntax")
    metrics.merge.observe(0.25)
    text = metrics.render()
    assert "studio_connections 2\n" in text and "studio_uploads_total 5\n" in text
    assert 'studio_errors_total{code="bad_syntax"} 1' in text
    assert 'studio_merge_seconds{quantile="0.5"} 0.25' in text
    assert "studio_merge_seconds_count 1" in text
    assert text.endswith("\n")


def test_describe_instructions() -> None:
    texts = [describe(i) for i in SCHEMA + tuple(item(3, "x"))]
    assert texts[0] == "AddClass Item (primary key _id: int)"
    assert texts[1] == "AddProperty Item.name: string?"
    assert texts[-2:] == ["CreateObject Item[3]", "Set Item[3].name = 'x'"]


def test_config() -> None:
    config = parse_config(["--data", "d", "--port", "0"], env={"STUDIO_ADMIN_PASSWORD": "pw"})
    assert config.admin_password == "pw" and config.port == 0 and config.scheme == "http"
    with pytest.raises(ConfigError, match="go together"):
        parse_config(["--data", "d", "--cert", "c.pem"], env={})
    with pytest.raises(SystemExit):
        parse_config(["--port", "1"], env={})  # --data is required


def _history_of(n: int) -> ServerHistory:
    """Two clients uploading concurrently (each based a little behind the
    latest version, never before its own last changeset)."""
    history = ServerHistory()
    a, b = history.allocate_file_ident(), history.allocate_file_ident()
    history.integrate(a, [Changeset(a, 1, 0, 1, SCHEMA)])
    own_last = {a: 1, b: 0}
    for k in range(n):
        ident = a if k % 2 else b
        cv = history.last_client_version(ident) + 1
        base = max(own_last[ident], history.latest_version - 2)
        result = history.integrate(
            ident, [Changeset(ident, cv, base, 10 + k, tuple(item(k % 4, f"v{k}")))]
        )
        own_last[ident] = result.entries[-1].server_version
    return history


def test_storage_and_history_rebuild(tmp_path: Path) -> None:
    storage = SqliteServerStorage(tmp_path)
    try:
        storage.create_user(UserRecord("ann", "h", False, False, 1.0))
        with pytest.raises(AlreadyExists):
            storage.create_user(UserRecord("ann", "h", False, False, 1.0))
        assert storage.update_user("ann", password_hash="h2").token_generation == 1
        assert storage.token_key() == storage.token_key()
        storage.create_realm("/shared/r", None)
        store = storage.open_realm("/shared/r")
        original = _history_of(12)
        store.append(
            RealmWrite(
                [StoredEntry(e, "ann") for e in original.entries()],
                [ClientIdent(1, "ann", "id-ann", 11), ClientIdent(2, "ann", "id-ann", 22)],
                {1: 3},
            )
        )
        store.update_state(max_changesets=1000)
        stats = store.stats()
        assert stats.server_version == stats.state_version == original.latest_version
        assert stats.objects == 5  # 4 items and the counter
        loaded = store.load()
        store.close()
        rebuilt = build_history(loaded)
        assert rebuilt.entries() == original.entries()
        assert rebuilt.allocate_file_ident() == original.allocate_file_ident() == 3
        # An upload based on an old version merges the same on both.
        base = max(e.server_version for e in original.entries() if e.origin_file_ident == 2)
        assert base < original.latest_version  # concurrent with the last changeset
        upload = Changeset(2, rebuilt.last_client_version(2) + 1, base, 999, tuple(item(1, "late")))
        assert rebuilt.integrate(2, [upload]).entries == original.integrate(2, [upload]).entries
        # Storing a changeset twice is refused rather than duplicated.
        store = storage.open_realm("/shared/r")
        latest = loaded.entries[-1].entry.server_version  # (another version: the check)
        dup = dataclasses.replace(loaded.entries[-1].entry, server_version=latest + 1)
        with pytest.raises(Exception, match=r"UNIQUE|unique"):
            store.append(RealmWrite([StoredEntry(dup, "ann")]))
        store.close()
        assert storage.realm_stats("/shared/r").objects == 5
    finally:
        storage.close()
