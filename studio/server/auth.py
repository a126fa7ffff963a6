"""Passwords and tokens.

Passwords are hashed with scrypt (memory-hard; ``hashlib.scrypt``) and a
per-user random salt, stored as ``scrypt$n$r$p$salt_hex$hash_hex`` so the cost
can be raised later without invalidating old hashes.

Tokens are ``<payload b64url>.<signature b64url>``: the payload is JSON
``{"sub", "uid", "adm", "exp", "typ", "gen", "iat"}``, the signature HMAC-SHA256 over
the payload part with a key generated at first start and stored by the
storage (docs/server-api.md). ``typ`` is ``access`` (short-lived, carried by
API requests and sync ``bind``) or ``refresh`` (long-lived, exchanged at
``/auth/refresh``). ``gen`` is the user's token generation: changing the
password bumps it, which invalidates every token issued before. ``uid`` is
the account's immutable random id: a token of a deleted account never works
again, even once its name is given to a new account.

Both parts are unpadded base64url and only their canonical spelling is
accepted: a token whose characters decode to the same bytes but are not what
the server issued (junk characters, padding, whitespace, changed unused low
bits of the last character) is refused, so one token has exactly one valid
spelling.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Final

from studio.server.errors import TokenError

DEFAULT_SCRYPT_N: Final = 2**14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_SALT_BYTES: Final = 16
_HASH_BYTES: Final = 32


def hash_password(password: str, n: int = DEFAULT_SCRYPT_N) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, n, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${n}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=_HASH_BYTES,
        maxmem=256 * 1024 * 1024,
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = bytes.fromhex(digest)
        got = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def _dummy_hash(n: int) -> str:
    return hash_password("not a password", n)


def burn_verification_time(password: str, n: int = DEFAULT_SCRYPT_N) -> None:
    """Spend what a real verification costs, so that an unknown user name
    takes as long to refuse as a wrong password (no user enumeration)."""
    verify_password(password, _dummy_hash(n))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*")


def _unb64(text: str) -> bytes:
    """Strict unpadded base64url: raises ValueError unless ``text`` is exactly
    what :func:`_b64` makes of some bytes."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not canonical base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:  # unused low bits of the last character were set
        raise ValueError("not canonical base64url")
    return data


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    """The user name (for messages and logs)."""
    uid: str
    """The account's immutable id: what the token really stands for."""
    adm: bool
    exp: float
    typ: str
    gen: int
    iat: float


class TokenSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a token key needs at least 16 bytes")
        self._key = key

    def issue(
        self, sub: str, uid: str, adm: bool, typ: str, ttl: float, gen: int, now: float
    ) -> str:
        payload = {
            "sub": sub,
            "uid": uid,
            "adm": adm,
            "exp": round(now + ttl, 3),
            "typ": typ,
            "gen": gen,
            "iat": round(now, 3),
        }
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return body + "." + _b64(self._sign(body))

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()

    def verify(self, token: object, typ: str, now: float) -> Claims:
        """The claims of a valid, unexpired token of kind ``typ``; raises
        :class:`TokenError` otherwise."""
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 4096:
            raise TokenError("the token is malformed; log in again")
        body, signature = token.split(".")
        try:
            _unb64(body)
            good = hmac.compare_digest(_unb64(signature), self._sign(body))
        except (ValueError, binascii.Error):
            good = False
        if not good:
            raise TokenError("the token's signature is not valid; log in again")
        try:
            raw = json.loads(_unb64(body))
            claims = Claims(
                str(raw["sub"]),
                str(raw["uid"]),
                bool(raw["adm"]),
                float(raw["exp"]),
                str(raw["typ"]),
                int(raw["gen"]),
                float(raw["iat"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise TokenError("the token's payload is malformed; log in again") from None
        if claims.typ != typ:
            raise TokenError(f"this is a {claims.typ} token; a token of type {typ} is needed")
        if claims.exp <= now:
            what = (
                "refresh token expired; log in again"
                if typ == "refresh"
                else ("access token expired; refresh it at /auth/refresh")
            )
            raise TokenError(f"the {what}", code="token_expired")
        return claims
