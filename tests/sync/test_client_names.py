"""The client's state enums have names of their own, apart from the protocol's."""

from __future__ import annotations

import pytest

import studio.sync.client as client
from studio.sync import protocol
from studio.sync.client import SessionConnectionState, SyncSessionState


def test_client_and_protocol_states_are_distinct() -> None:
    assert SyncSessionState is not protocol.SessionState
    assert SessionConnectionState is not protocol.ConnectionState
    assert [s.name for s in SyncSessionState] == ["ACTIVE", "INACTIVE", "INVALID"]
    assert [s.name for s in SessionConnectionState] == ["DISCONNECTED", "CONNECTING", "CONNECTED"]


@pytest.mark.parametrize(
    ("old", "new"),
    [("SessionState", SyncSessionState), ("ConnectionState", SessionConnectionState)],
)
def test_the_old_names_still_work_with_a_warning(old: str, new: type) -> None:
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated: use {new.__name__}"):
        assert getattr(client, old) is new


def test_unknown_names_are_still_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="NoSuchName"):
        client.NoSuchName  # noqa: B018
