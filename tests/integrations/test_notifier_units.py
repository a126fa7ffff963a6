"""The pieces of the notifier without a server: change summaries, the journal, settings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from studio.core import Realm
from studio.integrations import HandlerSpecError, Notifier, NotifierError, RealmEvent
from studio.integrations.cli import parse_handler
from studio.integrations.events import Changes, summarize
from studio.integrations.journal import EventJournal
from studio.primitives import instructions as ins
from studio.primitives.objectid import ObjectId

SCHEMA = [
    {
        "name": "Coupon",
        "primaryKey": "_id",
        "properties": {"_id": "string", "code": "string", "uses": "int", "tags": "string[]",
                       "owner": "Person?"},
    },
    {"name": "Person", "primaryKey": "_id", "properties": {"_id": "int", "name": "string"}},
]


def _changeset(*instructions: ins.Instruction) -> ins.Changeset:
    return ins.Changeset(2, 1, 0, 0, tuple(instructions))


def test_summary_reads_old_values_before_the_download(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "a.realm", schema=SCHEMA)
    with realm.write():
        ann = realm.create("Person", {"_id": 1, "name": "Ann"})
        realm.create("Coupon", {"_id": "old", "code": "A", "uses": 1, "tags": ["x"],
                                "owner": ann})  # fmt: skip
        realm.create("Coupon", {"_id": "gone", "code": "G", "uses": 0})
    changes = summarize(realm, [
        _changeset(
            ins.CreateObject("Coupon", "new"),
            ins.Set("Coupon", "new", ("code",), "N"),
            ins.AddInteger("Coupon", "old", ("uses",), 2),
            ins.ListInsert("Coupon", "old", ("tags",), 1, "y"),
            ins.Set("Coupon", "old", ("owner",), None),
        ),
        _changeset(
            ins.AddInteger("Coupon", "old", ("uses",), 3),  # the old value stays the first
            ins.EraseObject("Coupon", "gone"),
            ins.CreateObject("Coupon", "brief"),
            ins.EraseObject("Coupon", "brief"),  # created and erased: never seen
        ),
    ])  # fmt: skip
    assert list(changes.inserted["Coupon"]) == ["new"]
    assert changes.modified["Coupon"] == {
        "old": {"uses": 1, "tags": ["x"], "owner": ins.Link("Person", 1)}
    }
    assert list(changes.deleted["Coupon"]) == ["gone"]
    assert changes.classes == ("Coupon",)
    # The event joins the summary to live objects.
    event = RealmEvent("/p", realm, 7, Changes.from_json(changes.to_json()))
    old = realm.object_for_primary_key("Coupon", "old")
    assert old is not None
    assert [o["_id"] for o in event.modified("Coupon")] == ["old"]
    assert event.old_values(old) == {"uses": 1, "tags": ["x"], "owner": ins.Link("Person", 1)}
    assert event.inserted("Coupon") == []  # "new" is not in the realm (nobody applied it)
    assert event.deleted("Coupon") == ["gone"]
    assert event.inserted("NoSuchClass") == []
    realm.close()


def test_changes_survive_the_journal_encoding() -> None:
    oid = ObjectId()
    uid = uuid.uuid4()
    when = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    changes = Changes(
        inserted={"A": {1: None, "s": None, oid: None, uid: None, None: None}},
        modified={"B": {2: {"when": when, "blob": b"\x00\xff", "dec": Decimal("1.25"),
                            "link": ins.Link("A", oid), "map": {"k": [1, {"$m": 2}]},
                            "none": None}}},
        deleted={"C": {uid: None}},
    )
    again = Changes.from_json(changes.to_json())
    assert again == changes


def test_journal_keeps_pending_events_and_the_position(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "j.sqlite")
    journal.record(5, "five")
    journal.record(5, "five again")  # downloaded again after a crash
    journal.record(3, "older")
    journal.record(9, "nine")
    assert journal.next_pending() == (5, "five")
    assert journal.pending_count == 2
    journal.mark_handled(5)
    journal.close()
    journal = EventJournal(tmp_path / "j.sqlite")
    assert journal.handled == 5
    assert journal.next_pending() == (9, "nine")
    journal.mark_handled(9)
    assert journal.next_pending() is None
    journal.record(7, "behind the position")
    assert journal.next_pending() is None
    journal.close()


def test_journal_in_an_unusable_place_says_so(tmp_path: Path) -> None:
    with pytest.raises(NotifierError, match="cannot open the notifier journal"):
        EventJournal(tmp_path / "missing-dir" / "j.sqlite")


async def _noop(event: RealmEvent) -> None:
    del event


def test_registration_errors(tmp_path: Path) -> None:
    notifier = Notifier("http://127.0.0.1:1", username="a", password="b", data_dir=tmp_path)
    with pytest.raises(HandlerSpecError, match="bad realm path pattern"):
        notifier.on("(", _noop)
    with pytest.raises(HandlerSpecError, match="list of class names"):
        notifier.on(".*", _noop, classes="Coupon")
    with pytest.raises(NotifierError, match="max_concurrent"):
        Notifier("http://x", username="a", password="b", data_dir=tmp_path, max_concurrent=0)
    notifier.on("^/a", _noop)
    assert "test_notifier_units:_noop" in notifier.label
    assert notifier.label.startswith("studio-notifier/")


def test_parse_handler() -> None:
    pattern, function = parse_handler("^/a=b/=studio.integrations.cli:parse_handler")
    assert pattern == "^/a=b/" and function is parse_handler
    with pytest.raises(HandlerSpecError, match="has no nothing"):
        parse_handler("x=studio.integrations.cli:nothing")
    with pytest.raises(HandlerSpecError, match="is not callable"):
        parse_handler("x=studio.integrations.cli:EXIT_OK")


def test_the_sync_websocket_carries_the_user_agent(tmp_path: Path) -> None:
    """What the notifier's label rides on: ``SyncConfig.user_agent`` is the
    ``User-Agent`` of the sync connection."""
    import asyncio

    from websockets.asyncio.server import ServerConnection, serve
    from websockets.http11 import Request

    from studio.sync.client import App, SyncConfig, User

    seen: list[str | None] = []

    def record(connection: ServerConnection, request: Request) -> None:
        seen.append(request.headers.get("User-Agent"))

    async def main() -> None:
        async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0,
                         process_request=record) as server:  # fmt: skip
            port = server.sockets[0].getsockname()[1]
            config = SyncConfig(user_agent="studio-notifier/9 (handlers: m:f)", watch_files=False)
            async with App(f"http://127.0.0.1:{port}", config=config, base_dir=tmp_path) as app:
                user = User(app.base_url, "admin", access_token="t", refresh_token="r",
                            expires_in=3600)  # fmt: skip
                await app.open_realm(user, "/ua")
                deadline = asyncio.get_running_loop().time() + 10
                while not seen and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.01)

    asyncio.run(main())
    assert seen and seen[0] == "studio-notifier/9 (handlers: m:f)"


def test_a_passing_server_error_listing_realms_does_not_stop_the_notifier(
    tmp_path: Path,
) -> None:
    """The admin realm list can fail with a 500 (seen when a realm is being
    created meanwhile); the notifier starts anyway and lists again later."""
    import asyncio

    from aiohttp import web

    lists: list[int] = []

    async def login(request: web.Request) -> web.Response:
        return web.json_response({"user": {"username": "admin", "is_admin": True},
                                  "access_token": "a", "refresh_token": "r",
                                  "expires_in": 3600})  # fmt: skip

    async def realms(request: web.Request) -> web.Response:
        lists.append(1)
        if len(lists) == 1:
            return web.json_response({"error": {"code": "internal", "message": "boom"}},
                                     status=500)  # fmt: skip
        return web.json_response({"realms": []})

    async def events(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        return ws

    async def main() -> None:
        app = web.Application()
        app.add_routes([web.post("/auth/login", login), web.get("/admin/realms", realms),
                        web.get("/admin/events", events)])  # fmt: skip
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        notifier = Notifier(f"http://127.0.0.1:{port}", username="admin", password="pw",
                            data_dir=tmp_path, rescan_interval=0.05)  # fmt: skip
        notifier.on("^/", _noop)
        try:
            async with notifier:
                deadline = asyncio.get_running_loop().time() + 10
                while len(lists) < 2 and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.01)
        finally:
            await runner.cleanup()

    asyncio.run(main())
    assert len(lists) >= 2
