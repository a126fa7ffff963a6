"""What went wrong while talking to a server, in words that say what to do.

The sync client raises typed errors (``AuthenticationError``,
``ServerUnreachableError``, ``ApiError``); the TLS case arrives as an
unreachable server whose reason is an SSL error, so it is told apart by that
reason's text.
"""

from __future__ import annotations

import re
import ssl
import urllib.parse

from studio.sync.client import ApiError, AuthenticationError, ServerUnreachableError

_TLS_WORDS = ("ssl", "certificate", "tls", "wrong_version_number", "handshake")


def normalize_url(text: str) -> str:
    """``localhost:9080`` -> ``http://localhost:9080``; raises ValueError for nonsense."""
    text = text.strip()
    if not text.rstrip("/"):
        raise ValueError("Enter the server's address, e.g. http://localhost:9080.")
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not a server address: use http://HOST:PORT or "
                         "https://HOST:PORT, e.g. http://localhost:9080.")
    try:
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        raise ValueError(f"{text!r} has an invalid port number.") from None
    # Drop user info and any path/query: the server's API lives at the root.
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}"


def normalize_urls(text: str) -> str:
    """``a:9080, b:9080`` -> ``http://a:9080,http://b:9080``: several servers in
    front of one store (the client moves on when one fails); ValueError as
    :func:`normalize_url` for the first bad one."""
    items = [item for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError("Enter the server's address, e.g. http://localhost:9080.")
    return ",".join(dict.fromkeys(normalize_url(item) for item in items))


def username_in_url(text: str) -> str:
    """The user of ``http://admin@host:port`` (so ``studio --connect`` can prefill it)."""
    if "://" not in text:
        text = "http://" + text
    return urllib.parse.unquote(urllib.parse.urlsplit(text).username or "")


def is_tls_problem(exc: BaseException) -> bool:
    if isinstance(exc, ssl.SSLError):
        return True
    text = str(exc).lower()
    return any(word in text for word in _TLS_WORDS)


def describe_connect_error(exc: BaseException | None, url: str) -> str:
    """One or two sentences for the login form or the connection indicator."""
    if exc is None:
        return ""
    if isinstance(exc, PermissionError):
        return str(exc)
    if isinstance(exc, AuthenticationError):
        if exc.error == "suspended":
            return ("This user is suspended on the server. Ask an admin to lift the "
                    "suspension, or log in as another user.")
        if exc.error == "invalid_token":
            return "Your session on the server has ended. Log in again."
        return "Wrong username or password. Check both and try again."
    if is_tls_problem(exc):
        https = url.startswith("https://")
        hint = ("If the server uses a self-signed certificate, trust it on this machine; if it "
                "serves plain HTTP, connect with http:// instead." if https else
                "Check whether the server expects https://.")
        return f"A TLS (secure connection) problem with {url}: {_reason(exc)}. {hint}"
    if isinstance(exc, TimeoutError):  # an OSError too, but the server may well be up
        return f"The server at {url} did not answer in time. Try again."
    if isinstance(exc, ServerUnreachableError | OSError):
        return (f"Cannot reach the server at {url} ({_reason(exc)}). Is it running? Check the "
                "address and the port, and your network.")
    if isinstance(exc, ApiError):
        if exc.status == 403:
            return "This user may not use the admin API: log in as an admin user."
        if exc.status == 404:
            return (f"{url} answered, but it is not an object server (no such API). "
                    "Check the address and port.")
        return f"The server refused the request: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc)
    # "cannot reach http://x/auth/login: [Errno 111] Connection refused" -> the reason only.
    if ": " in text and text.startswith("cannot reach"):
        text = text.split(": ", 1)[1]
    # "[Errno 111] Connection refused" -> "Connection refused": the number means nothing
    # to a user.
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text)
    return text.strip().rstrip(".") or type(exc).__name__
