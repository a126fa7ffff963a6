"""Property-based tests of the REST data API with schemathesis: requests
generated from the server's own OpenAPI document (``/api/openapi.json``),
sent to a real server; every answer must be a success or a 4xx with a JSON
error body that says what was wrong, never a 5xx.

The suite runs a short round (tests/server/test_rest_api_fuzz.py); the long
one runs from the command line::

    PYTHONPATH=. .venv/bin/python tests/server/rest_fuzz.py --examples 2000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_harness import (
    SCHEMA,
    RawClient,
    admin_token,
    call,
    running_server,
)

REALM = "/shared/chat"
_mostly = st.sampled_from([True, True, True, True, False])


@contextlib.contextmanager
def served(data: Path) -> Iterator[tuple[str, str]]:
    """A server on a thread of its own with a realm ``/shared/chat`` holding
    the harness schema and a few objects; yields (url, admin token)."""
    ready: dict[str, Any] = {}
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        try:
            async with running_server(data) as server:
                token = await admin_token(server.url)
                device = await RawClient(server.url, token, REALM, "fuzz").connect()
                await device.wait_bound()
                await device.commit(SCHEMA)
                await device.sync()
                await device.close()
                items = "/api/v1/realms/%2Fshared%2Fchat/classes/Item/objects"
                for pk in range(5):
                    await call(server.url, "POST", items, {"_id": pk, "name": f"i{pk}"}, token)
                ready["url"], ready["token"] = server.url, token
                started.set()
                await stop.wait()
        except BaseException as exc:
            ready["error"] = exc
            started.set()
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(60)
    if "error" in ready or "url" not in ready:
        raise RuntimeError(f"the server did not start: {ready.get('error')}")
    try:
        yield ready["url"], ready["token"]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


def check_answer(response: Any, what: str) -> None:
    """``response``: schemathesis's (headers: lowercase names, lists of values)."""
    status = response.status_code
    assert status < 500, f"{what}: {status} {response.text[:300]}"
    if status == 204:
        return
    kind = ",".join(response.headers.get("content-type", []))
    assert kind.startswith("application/json"), f"{what}: {status} {kind} {response.text[:200]}"
    body = response.json()
    if status >= 400:
        error = body["error"]
        assert isinstance(error["code"], str) and error["code"], what
        assert isinstance(error["message"], str) and error["message"], what


def fuzz(url: str, token: str, examples: int) -> Counter[int]:
    """Run ``examples`` generated requests per operation; returns how many
    answers of each status came back."""
    doc = requests.get(url + "/api/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(doc)
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    sent: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()

        # Most cases aim at the real realm and class with a valid token, so
        # the generated bodies, keys, queries and cursors reach the code
        # behind the checks; the others try wrong realms and no token.
        @given(case=operation.as_strategy(), aim=_mostly, auth=_mostly)
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any, aim: bool, auth: bool) -> None:
            if aim:
                case.path_parameters["realm"] = REALM.replace("/", "%2F")
                case.path_parameters["cls"] = "Item"
            response = case.call(
                base_url=url, session=session, headers=headers if auth else {}, timeout=30
            )
            sent[response.status_code] += 1
            check_answer(response, f"{case.method} {case.formatted_path} {case.query}")

        run()
    return sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=1000, help="per operation")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, served(Path(tmp)) as (url, token):
        sent = fuzz(url, token, args.examples)
    print(f"{sum(sent.values())} requests, no 5xx, every error a JSON body: {dict(sent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
