"""Random concurrent edits through the full client stack (realm files, history,
connection, in-test server), with pauses and dropped connections: every
replica must end identical."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
from test_client_harness import make_app, make_user, run, running_server

from studio.core import Realm
from studio.sync.client.app import SyncedRealm

SCHEMA = [
    {
        "name": "Doc",
        "primaryKey": "_id",
        "properties": {
            "_id": "int",
            "title": "string?",
            "count": "int",
            "tags": "string[]",
            "labels": "string<>",
            "meta": "string{}",
            "ref": "Doc?",
        },
    }
]


def snapshot(realm: Realm) -> dict[int, Any]:
    out = {}
    for doc in realm.objects("Doc"):
        d = doc.to_dict()
        d["labels"] = sorted(d["labels"])
        out[doc._id] = d
    return out


def random_edit(rng: random.Random, realm: Realm, tag: str) -> None:
    with realm.write():
        docs = list(realm.objects("Doc"))
        op = rng.random()
        if not docs or op < 0.2:
            key = rng.randrange(30)
            if realm.object_for_primary_key("Doc", key) is None:
                realm.create("Doc", {"_id": key, "count": 0})
            return
        doc = rng.choice(docs)
        if op < 0.3:
            doc.title = f"{tag}-{rng.randrange(100)}"
        elif op < 0.4:
            doc.increment("count", rng.randrange(1, 5))
        elif op < 0.55:
            doc.tags.insert(rng.randrange(len(doc.tags) + 1), f"{tag}{rng.randrange(9)}")
        elif op < 0.62 and len(doc.tags):
            del doc.tags[rng.randrange(len(doc.tags))]
        elif op < 0.7 and len(doc.tags) > 1:
            doc.tags.move(rng.randrange(len(doc.tags)), rng.randrange(len(doc.tags)))
        elif op < 0.78:
            doc.labels.add(f"l{rng.randrange(5)}")
        elif op < 0.84:
            doc.meta[f"k{rng.randrange(4)}"] = tag
        elif op < 0.9:
            doc.ref = rng.choice(docs)
        elif op < 0.95:
            realm.delete(doc)
        else:
            doc.tags.clear()


@pytest.mark.parametrize("seed", [1, 2, 3])
@run
async def test_random_edits_converge(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    async with running_server() as server:
        apps = [make_app(server, tmp_path / f"app{i}") for i in range(3)]
        realms: list[SyncedRealm] = [
            await app.open_realm(make_user(f"u{i}"), "/shared/docs",
                                 path=tmp_path / f"r{i}.realm", schema=SCHEMA)
            for i, app in enumerate(apps)
        ]  # fmt: skip
        for step in range(150):
            i = rng.randrange(3)
            realm = realms[i]
            random_edit(rng, realm, f"c{i}")
            roll = rng.random()
            if roll < 0.05:
                realm.sync_session.pause()
            elif roll < 0.15:
                realm.sync_session.resume()
            elif roll < 0.17:
                await server.drop_connections()
            if step % 7 == 0:
                await asyncio.sleep(rng.choice([0, 0.001, 0.005]))
        for realm in realms:
            realm.sync_session.resume()
        for realm in realms:
            await realm.sync_session.wait_for_upload_completion(10)
        for realm in realms:
            await realm.sync_session.wait_for_download_completion(10)
        states = [snapshot(r) for r in realms]
        assert states[0] == states[1] == states[2]
        assert all(r.history() == [] for r in realms)  # everything acknowledged and trimmed
        for app in apps:
            await app.close()
