"""Readable one-line text for sync instructions, as the server's history API writes
them (``Set Message['m1'].text = 'hi'``), and filtering by class and object.

The text itself comes from ``studio.core.describe``, shared with the server, so the
History panel shows local (not yet uploaded) and server changesets alike.
"""

from __future__ import annotations

import re

from studio.core.describe import describe

__all__ = ["describe", "matches", "target_of"]

# "Verb Class[pk]...", "AddClass Class (...)", "AddProperty Class.prop: type"
_TARGET = re.compile(r"^(\w+) ([A-Za-z_$][\w$]*)(\[(.*?)\])?(?=[\s.\[:]|$)")


def target_of(text: str) -> tuple[str, str]:
    """(class name, primary key text) that a readable instruction is about; the key is
    empty for schema instructions."""
    match = _TARGET.match(text)
    if match is None:
        return "", ""
    return match.group(2), match.group(4) or ""


def matches(text: str, class_name: str, object_text: str) -> bool:
    """Whether an instruction is about ``class_name`` (empty: any) and an object whose
    primary key contains ``object_text`` (empty: any; quotes are ignored)."""
    cls, key = target_of(text)
    if class_name and cls != class_name:
        return False
    if object_text:
        wanted = object_text.strip().strip("'\"").lower()
        return bool(key) and wanted in key.strip("'\"").lower()
    return True
