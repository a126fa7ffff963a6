"""The tests' oracles: plain, obviously correct versions of what studio ships.

``model`` is a tiny in-memory store that applies changesets (what replicas
and the real store are compared with); ``merge_reference`` is the plain
merge driver the indexed one in ``studio.sync.merge`` replaced. They are not
part of the shipped package: tests import them as ``oracles`` (``tests/`` is
on ``sys.path`` because ``tests/conftest.py`` sits there without an
``__init__.py``).
"""
