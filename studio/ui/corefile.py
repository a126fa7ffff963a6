"""A genuine Realm Core file's class as the table's rows (the Qt-facing part).

The read-only, Realm-like view of the file is :mod:`studio.realmfile.browse`; this
module only fits its Results to the table model's :class:`ResultsSource`.
"""

from __future__ import annotations

from studio.realmfile.browse import CoreResults
from studio.ui.sources import ResultsSource


class CoreResultsSource(ResultsSource):
    """A class of the file as the table's rows: read-only, static, found by object key."""

    results: CoreResults

    def __init__(self, results: CoreResults) -> None:
        super().__init__(results, realm=results.realm, read_only=True)

    def find(self, key: int) -> int | None:
        return self.results.realm.index_of_key(self.object_schema.name, key)
