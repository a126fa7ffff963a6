"""Opening reads the header and schema only; the file is mapped read-only and
never written, and may be open (and growing) in an app at the same time."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from studio.realmfile import RealmFile


def test_opening_decodes_no_objects(corpus: Path) -> None:
    with RealmFile.open(corpus / "rc__test_upgrade_database_1000_24.realm") as rf:
        rf.schema  # noqa: B018
        rf.object_schema("table")
        objs = rf.objects("table")
        assert len(objs) == 10001  # read from the root node alone
        table = rf._by_name["table"]
        assert table.tree._leaves is None  # the tree was not walked
        assert rf._decoded == 0  # no column decoded
        nodes_read = len(rf._buf._headers)
        assert nodes_read < 60, nodes_read  # of the ~1,500 nodes in the file
        objs[5000]["string"]
        assert rf._decoded == 1  # one column of one cluster
        assert len(rf._buf._headers) < nodes_read + 60


def test_the_file_is_never_written(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "copy.realm"
    shutil.copyfile(corpus / "rc__test_upgrade_database_4_23.realm", path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    os.utime(path, (1_000_000_000, 1_000_000_000))
    with RealmFile.open(path) as rf:
        for cls in rf.class_names(include_internal=True):
            for obj in rf.objects(cls):
                obj.to_dict()
        with pytest.raises(TypeError):
            rf._buf._mm[0] = 0  # mapped ACCESS_READ
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert path.stat().st_mtime == 1_000_000_000


def test_reading_while_another_process_holds_and_grows_the_file(
    corpus: Path, tmp_path: Path
) -> None:
    path = tmp_path / "shared.realm"
    shutil.copyfile(corpus / "js__packages_realm-tools_samples_default.realm", path)
    with open(path, "r+b") as app:  # the app keeps its file open for writing
        first = RealmFile.open(path)
        second = RealmFile.open(path)  # several readers at once
        app.seek(0, os.SEEK_END)
        app.write(bytes(4096))  # a commit grows the file; the snapshot we read is unchanged
        app.flush()
        assert [c["name"] for c in first.objects("Child")][:2] == ["Eric", "Frederick"]
        assert len(second.objects("Parent")) == 5
        first.close()
        second.close()
