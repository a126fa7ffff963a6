"""The embedded object store: realm files on SQLite with live objects and notifications.

Only the standard library is used here; nothing in ``studio.core`` knows about
sync, servers or Qt.
"""

from __future__ import annotations

from studio.core.changes import CollectionChanges, ObjectChange, RealmChanges
from studio.core.collections import LinkingObjects, RealmDictionary, RealmList, RealmSet
from studio.core.errors import (
    ClosedRealmError,
    DuplicatePrimaryKeyError,
    FileFormatError,
    InvalidatedObjectError,
    MigrationError,
    MissingValueError,
    QueryError,
    RealmError,
    SchemaError,
    SchemaMismatchError,
    UnknownPropertyError,
    ValueTypeError,
    WrongThreadError,
    WrongTransactionStateError,
)
from studio.core.models import Backlinks, EmbeddedModel, Float32, Indexed, Model
from studio.core.notify import NotificationToken
from studio.core.objects import RealmObject
from studio.core.realm import Realm
from studio.core.results import Results
from studio.core.schema import ObjectSchema, Property, parse_schema
from studio.primitives.objectid import ObjectId

__all__ = [
    "Backlinks",
    "EmbeddedModel",
    "Float32",
    "Indexed",
    "Model",
    "ClosedRealmError",
    "CollectionChanges",
    "DuplicatePrimaryKeyError",
    "FileFormatError",
    "InvalidatedObjectError",
    "LinkingObjects",
    "MigrationError",
    "MissingValueError",
    "NotificationToken",
    "ObjectChange",
    "ObjectId",
    "ObjectSchema",
    "Property",
    "QueryError",
    "Realm",
    "RealmChanges",
    "RealmDictionary",
    "RealmError",
    "RealmList",
    "RealmObject",
    "RealmSet",
    "Results",
    "SchemaError",
    "SchemaMismatchError",
    "UnknownPropertyError",
    "ValueTypeError",
    "WrongThreadError",
    "WrongTransactionStateError",
    "parse_schema",
]
