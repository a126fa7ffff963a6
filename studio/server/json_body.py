"""Reading a request's JSON body safely, and checking its fields.

Every HTTP route that takes a body (``/auth/...`` and the admin API) reads
it here. The checks come in the order of their cost, so a hostile body is
refused before it costs anything:

1. the declared size (``Content-Length``) against the body limit, before a
   byte is read (413);
2. the body read within ``body_timeout`` seconds, never more bytes than the
   limit (408, 413);
3. strict UTF-8, then JSON with limits on the length of a number (Python's
   ``int()`` refuses more than 4,300 digits, with a ValueError) and on
   nesting (the parser recurses: 100,000 ``[`` raise RecursionError); both
   become a 400 that says what was wrong, never a 500;
4. a JSON object, whose string fields the routes check for type and length
   (:func:`string_field`) before doing anything with them (before scrypt).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Final

from aiohttp import web

from studio.server.errors import ApiError, BadRequest

MAX_JSON_DEPTH: Final = 32
"""Arrays and objects inside one another (request bodies are flat objects)."""
MAX_NUMBER_CHARS: Final = 64
"""Characters of one JSON number."""
MAX_PASSWORD_CHARS: Final = 1024
"""Characters of a password (login, new user, password change)."""
MAX_TOKEN_CHARS: Final = 4096
"""Characters of a refresh token."""


class _JsonLimit(Exception):
    """A JSON number or nesting beyond the limits (raised inside the parser)."""


def _number(text: str, kind: type[int] | type[float]) -> int | float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _JsonLimit(f"a number has {len(text)} characters; at most {MAX_NUMBER_CHARS}")
    return kind(text)


def _no_constant(name: str) -> object:
    raise _JsonLimit(f"{name} is not JSON")


def _too_deep(value: object) -> bool:
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw``; :class:`BadRequest` saying what is wrong
    otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8 (byte {exc.start}); send UTF-8 JSON") from None
    try:
        body = json.loads(
            text,
            parse_int=lambda s: _number(s, int),
            parse_float=lambda s: _number(s, float),
            parse_constant=_no_constant,
        )
    except _JsonLimit as exc:
        raise BadRequest(f"the body is not acceptable JSON: {exc}") from None
    except RecursionError:
        raise BadRequest(
            f"the body's JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)"
        ) from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc.msg} at character {exc.pos}") from None
    if _too_deep(body):
        raise BadRequest(f"the body's JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)")
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def read_json_body(request: web.Request, max_bytes: int, timeout: float) -> dict[str, Any]:
    """Read and parse the body of ``request`` within the limits."""
    if not request.can_read_body:
        raise BadRequest("this request needs a JSON object body")
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise ApiError(
            f"the body has {declared} bytes; at most {max_bytes}", code="too_large", status=413
        )
    try:
        async with asyncio.timeout(timeout):
            raw = await request.read()
    except TimeoutError:
        raise ApiError(
            f"the body did not arrive within {timeout:g} s; send it at once",
            code="request_timeout",
            status=408,
        ) from None
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(
            f"the body is larger than {max_bytes} bytes", code="too_large", status=413
        ) from None
    return parse_json_object(raw)


def string_field(
    body: dict[str, Any],
    name: str,
    max_length: int,
    *,
    required: bool = True,
    allow_empty: bool = False,
) -> str | None:
    """``body[name]``: a string of at most ``max_length`` characters, not
    empty unless ``allow_empty`` (or absent/null when not ``required``)."""
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not (value or allow_empty):
        raise BadRequest(f"{name} must be a {'' if allow_empty else 'non-empty '}string")
    if len(value) > max_length:
        raise BadRequest(f"{name} is too long ({len(value)} characters; at most {max_length})")
    return value

