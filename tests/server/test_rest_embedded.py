"""REST writes of embedded objects (single, in lists, in dictionaries, nested),
seen by a synced device exactly as if the device had written them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from server_harness import ADMIN_PASSWORD, admin_token, call, running_server, until

from studio.sync.client import App, SyncConfig

SCHEMA = [
    {
        "name": "Person",
        "primaryKey": "_id",
        "properties": {
            "_id": "int",
            "name": "string",
            "home": "Address?",
            "past": "Address[]",
            "places": "Address{}",
        },
    },
    {"name": "Address", "embedded": True, "properties": {"city": "string", "geo": "Geo?"}},
    {"name": "Geo", "embedded": True, "properties": {"lat": "double", "lon": "double"}},
]
PEOPLE = "/api/v1/realms/%2Fshared%2Fpeople/classes/Person/objects"


def plain(obj: Any) -> Any:
    if obj is None:
        return None
    return {"city": obj.city, "geo": None if obj.geo is None else [obj.geo.lat, obj.geo.lon]}


def test_embedded_objects_are_written_and_reach_a_device(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path / "server") as server:
            url, token = server.url, await admin_token(server.url)
            app = App(url, config=SyncConfig(watch_files=False), base_dir=tmp_path / "device")
            user = await app.login("admin", ADMIN_PASSWORD)
            realm = await app.open_realm(user, "/shared/people", schema=SCHEMA)
            await realm.sync_session.wait_for_upload_completion(10)
            person = {
                "_id": 1,
                "name": "ann",
                "home": {"city": "Berlin", "geo": {"lat": 52.5, "lon": 13.4}},
                "past": [{"city": "Oslo"}, {"city": "Rome", "geo": {"lat": 41.9, "lon": 12.5}}],
                "places": {"work": {"city": "Paris"}, "none": None},
            }
            status, created = await call(url, "POST", PEOPLE, person, token)
            assert status == 201, created
            assert created["home"] == {"city": "Berlin", "geo": {"lat": 52.5, "lon": 13.4}}
            assert [p["city"] for p in created["past"]] == ["Oslo", "Rome"]

            def ann() -> Any:
                return realm.object_for_primary_key("Person", 1)

            await until(lambda: ann() is not None, what="the device gets the person")
            assert plain(ann().home) == {"city": "Berlin", "geo": [52.5, 13.4]}
            assert [plain(p) for p in ann().past] == [
                {"city": "Oslo", "geo": None}, {"city": "Rome", "geo": [41.9, 12.5]},
            ]  # fmt: skip
            assert plain(ann().places["work"]) == {"city": "Paris", "geo": None}
            assert ann().places["none"] is None

            # PATCH replaces an embedded object, a list of them; null removes one.
            patch = {"home": {"city": "Hamburg"}, "past": [{"city": "Lima"}], "places": {}}
            status, patched = await call(url, "PATCH", f"{PEOPLE}/1", patch, token)
            assert status == 200, patched
            await until(lambda: ann().home.city == "Hamburg", what="the device gets the PATCH")
            assert plain(ann().home) == {"city": "Hamburg", "geo": None}
            assert [p.city for p in ann().past] == ["Lima"] and len(ann().places) == 0
            status, _ = await call(url, "PATCH", f"{PEOPLE}/1", {"home": None}, token)
            assert status == 200
            await until(lambda: ann().home is None, what="the device loses the home")

            bad = [
                ({"home": "Berlin"}, "Person.home holds an embedded Address: send a JSON object"),
                ({"home": {"town": "x"}}, "Address has no property 'town'"),
                ({"past": [{"geo": {"lat": "north"}}]}, "Geo.lat is a double"),
            ]
            for patch, message in bad:
                status, err = await call(url, "PATCH", f"{PEOPLE}/1", patch, token)
                assert status == 400 and message in err["error"]["message"], (patch, err)
            await app.close()

    asyncio.run(body())
