"""The OpenAPI 3.1 document of the REST data API, made from its route table
(rest_api.ROUTES), so the document cannot drift from what is served."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    operation: str
    summary: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    status: int
    """The status of success."""
    body: bool = False
    """Takes a JSON object body."""


_ERROR = {"$ref": "#/components/schemas/Error"}
_OBJECT = {"$ref": "#/components/schemas/Object"}

_PARAMETERS: dict[str, dict[str, Any]] = {
    "realm": {
        "description": "The realm path URL-encoded as one segment (%2Fshared%2Fchat; /~/ is yours)",
        "schema": {"type": "string", "minLength": 1, "maxLength": 1024},
    },
    "cls": {"description": "The class name", "schema": {"type": "string", "minLength": 1}},
    "pk": {
        "description": "The primary key, as text (ints in decimal, ObjectIds in hex)",
        "schema": {"type": "string", "minLength": 1},
    },
}

_LIST_QUERY: list[dict[str, Any]] = [
    {
        "name": "query",
        "in": "query",
        "description": "Realm Query Language filter, e.g. `age > 30 AND name BEGINSWITH 'A'`",
        "schema": {"type": "string", "maxLength": 4096},
    },
    {
        "name": "sort",
        "in": "query",
        "description": "A property to sort by (`-name`: descending); ties by primary key",
        "schema": {"type": "string"},
    },
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    },
    {
        "name": "after",
        "in": "query",
        "description": "The `next` cursor of the previous page",
        "schema": {"type": "string"},
    },
]

_ERRORS: dict[str, Any] = {
    str(status): {
        "description": why,
        "content": {"application/json": {"schema": _ERROR}},
    }
    for status, why in (
        (400, "bad input: the message says what was wrong"),
        (401, "no or a bad access token"),
        (403, "not allowed on this realm"),
        (404, "no such realm, class or object"),
        (409, "an object with this primary key exists"),
        (413, "the body is too large"),
        (503, "the realm is not available now; retry"),
    )
}


def _operation(route: Route) -> dict[str, Any]:
    names = re.findall(r"{(\w+)}", route.path)
    op: dict[str, Any] = {
        "operationId": route.operation,
        "summary": route.summary,
        "security": [{"bearer": []}],
        "parameters": [
            {"name": n, "in": "path", "required": True, **_PARAMETERS[n]} for n in names
        ],
    }
    if route.operation == "listObjects":
        op["parameters"] += _LIST_QUERY
        ok: dict[str, Any] = {
            "type": "object",
            "required": ["objects", "next"],
            "properties": {
                "objects": {"type": "array", "items": _OBJECT},
                "next": {"type": ["string", "null"]},
            },
        }
    else:
        ok = _OBJECT
    if route.body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _OBJECT}},
        }
    if route.status == 204:
        success: dict[str, Any] = {"description": "done"}
    else:
        success = {"description": "ok", "content": {"application/json": {"schema": ok}}}
    op["responses"] = {str(route.status): success, **_ERRORS}
    return op


def openapi_document(routes: tuple[Route, ...], version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Studio REST data API",
            "version": version,
            "description": "Objects of a realm over HTTP; see docs/server-api.md. "
            "Values use the plain JSON form of the Studio's JSON export.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The access_token of POST /auth/login",
                }
            },
            "schemas": {
                "Object": {"type": "object", "additionalProperties": True},
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
            },
        },
    }
