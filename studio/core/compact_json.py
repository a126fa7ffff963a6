"""JSON text without spaces, as the change log and the history table store it.

``json.JSONEncoder.encode`` builds a new C encoder on every call, which is half the cost
of encoding the small documents of a one-object commit (two per commit); this keeps one.
"""

from __future__ import annotations

import json
from json import encoder as _stdlib_encoder
from typing import Any

_FALLBACK = json.JSONEncoder(separators=(",", ":"))

# The C accelerator of the json module (not in the type stubs); None where Python was
# built without it.
_MAKE_C_ENCODER: Any = getattr(_stdlib_encoder, "c_make_encoder", None)
_C_ENCODER = (
    None
    if _MAKE_C_ENCODER is None
    else _MAKE_C_ENCODER(
        None,  # no check for circular references: callers pass plain trees
        _FALLBACK.default,
        _stdlib_encoder.encode_basestring_ascii,
        None,  # no indent
        ":",
        ",",
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
)


def compact_json(value: dict[str, Any] | list[Any]) -> str:
    """``value`` (plain dicts, lists, str, int, float, bool, None) as compact JSON text,
    exactly as ``json.dumps(value, separators=(",", ":"))`` writes it."""
    if _C_ENCODER is None:
        return _FALLBACK.encode(value)
    return "".join(_C_ENCODER(value, 0))
