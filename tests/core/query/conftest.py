"""Fixtures of the query tests; the data sets themselves are in rql_data.py."""

from __future__ import annotations

import pytest
from rql_data import build_boxes, build_people
from rql_fixtures import RawRealm


@pytest.fixture(scope="session")
def people() -> RawRealm:
    return build_people()


@pytest.fixture(scope="session")
def boxes() -> RawRealm:
    return build_boxes()
