from __future__ import annotations

import json
from typing import Any

import pytest

from studio.core.compact_json import compact_json


@pytest.mark.parametrize(
    "value",
    [
        {"Item": {"i": [[5, 6]], "d": [], "m": {"7": ["name", "tag"]}}},
        [["Set", "Msg", 1, ["text"], "é\n\"quoted\" \u2603"], ["Set", "Msg", 1, ["v"], -0.0]],
        [1e300, float("inf"), float("nan"), None, True, False, 2**70],
        {},
        [],
    ],
)
def test_writes_what_json_dumps_writes(value: Any) -> None:
    assert compact_json(value) == json.dumps(value, separators=(",", ":"))


def test_rejects_what_json_cannot_encode() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        compact_json([object()])
