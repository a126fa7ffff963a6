"""Read-only reader of genuine Realm Core files (file formats 20-24).

Pure Python (mmap + struct): no Realm SDK needed. ::

    from studio.realmfile import RealmFile
    with RealmFile.open("default.realm") as rf:
        rf.format_version, rf.schema, rf.class_names()
        for person in rf.objects("Person"):
            print(person.name, person.to_dict())

See docs/realmfile.md for what is supported.
"""

from __future__ import annotations

from studio.realmfile.errors import (
    CorruptRealmError,
    EncryptedRealmError,
    NotARealmFileError,
    RealmFileError,
    UnknownNameError,
    UnsupportedFormatError,
)
from studio.realmfile.objects import RealmObject, Results
from studio.realmfile.reader import RealmFile, is_realm_core_file

__all__ = [
    "CorruptRealmError",
    "EncryptedRealmError",
    "NotARealmFileError",
    "RealmFile",
    "RealmFileError",
    "RealmObject",
    "Results",
    "UnknownNameError",
    "UnsupportedFormatError",
    "is_realm_core_file",
]
