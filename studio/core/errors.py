"""Every error the core store raises derives from :class:`RealmError`."""

from __future__ import annotations


class RealmError(Exception):
    """Base class of all errors of ``studio.core``."""


class SchemaError(RealmError):
    """A schema is malformed, or a value does not fit the schema."""


class SchemaMismatchError(SchemaError):
    """The given schema differs from the file's in a way that needs a migration."""


class MigrationError(RealmError):
    """A migration callback failed, or a migration was needed and none was given."""


class FileFormatError(RealmError):
    """The file is not a studio realm (or is a realm of a kind this API does not open)."""


class WrongTransactionStateError(RealmError):
    """A write outside ``realm.write()``, a nested ``write()``, or a write on a read-only
    realm."""


class ValueTypeError(SchemaError, TypeError):
    """A value has the wrong type for the property it is assigned to."""


class BadValueError(RealmError, ValueError):
    """A text does not read as a value of the type wanted (a CSV cell, what a person
    typed); the message says what was expected."""


class UnknownPropertyError(SchemaError, KeyError):
    """A property or class name that the schema does not have."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class MissingValueError(SchemaError):
    """A required property was not given a value when creating an object."""


class DuplicatePrimaryKeyError(RealmError):
    """An object with the same primary key already exists."""


class InvalidatedObjectError(RealmError):
    """The object was deleted (or the realm closed) and can no longer be used."""


class QueryError(RealmError, ValueError):
    """A Realm Query Language string could not be parsed or does not fit the schema.

    ``position`` is the 0-based offset in the query where the problem was found.
    """

    def __init__(self, message: str, position: int = 0, query: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.query = query

    def __str__(self) -> str:
        if self.query:
            return f"{self.message} (at position {self.position})"
        return self.message


class ClosedRealmError(RealmError):
    """The realm was closed."""


class WrongThreadError(RealmError):
    """A realm was used from a thread other than the one that opened it."""


class CsvImportError(RealmError):
    """A CSV file could not be imported.

    ``line`` is the 1-based line of the file where the bad row starts (``None`` when
    the problem is not about one row); ``committed_rows`` how many rows earlier
    batches committed before the import stopped.
    """

    def __init__(self, message: str, *, line: int | None = None, committed_rows: int = 0,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.committed_rows = committed_rows
        self.reason = reason if reason is not None else message
