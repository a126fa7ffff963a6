"""``inspect_json``: a summary of a Realm Core file for ``studio inspect --json``.

Reads the header and schema, and each class's object count from its tree's root
node: no object is decoded, so it is fast on files of any size.
"""

from __future__ import annotations

import os
from typing import Any

from studio.realmfile.reader import RealmFile


def inspect_json(
    path: str | os.PathLike[str], include_internal: bool | None = None
) -> dict[str, Any]:
    """``{"format": 24, "classes": [{"name", "count", "primary_key", "embedded",
    "properties": [{"name", "type", "optional", "object_type", "type_string"}]}]}``.

    ``type`` is the base type (``int``, ``string``, ``object``, ...); ``type_string``
    is Realm's short form with optionality and collection (``int?``, ``Dog[]``,
    ``string<>``, ``mixed{}``). Raises :class:`RealmFileError` for files it cannot read.

    ``include_internal`` None (the default) lists the SDK classes, or every table
    when the file has none (a file written by Realm Core itself, such as its tests').
    """
    with RealmFile.open(path) as rf:
        if include_internal is None:
            include_internal = not rf.class_names()
        classes = []
        for name in rf.class_names(include_internal=include_internal):
            schema = rf.object_schema(name)
            classes.append(
                {
                    "name": schema.name,
                    "count": rf.count(name),
                    "primary_key": schema.primary_key,
                    "embedded": schema.embedded,
                    "properties": [
                        {
                            "name": p.name,
                            "type": p.type,
                            "optional": p.optional,
                            "object_type": p.object_type,
                            "type_string": p.type_string,
                        }
                        for p in schema.properties
                    ],
                }
            )
        return {"format": rf.format_version, "classes": classes}
