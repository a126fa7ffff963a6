"""A short schemathesis round against a real server (the long one:
``python tests/server/rest_fuzz.py --examples 2000``)."""

from __future__ import annotations

from pathlib import Path

from rest_fuzz import fuzz, served


def test_generated_requests_never_get_a_5xx(tmp_path: Path) -> None:
    with served(tmp_path) as (url, token):
        answers = fuzz(url, token, examples=25)
    # Generated requests reach the objects (2xx), not only the checks (4xx).
    assert sum(n for status, n in answers.items() if status < 300) >= 3, answers
    assert sum(n for status, n in answers.items() if 400 <= status < 500) >= 10, answers
