"""Damaged files give a RealmFileError naming what and where -- never an
IndexError, struct.error, RecursionError, a hang or a crash."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from realmfile_builder import INT, LIST, MIXED, NULLABLE, Builder, tagged

from studio.realmfile import CorruptRealmError, RealmFile, RealmFileError

Write = Callable[[bytes], Path]
FUZZ_FILES = [
    "rc__test_upgrade_database_20.realm",
    "rc__test_upgrade_database_4_22.realm",
    "rc__test_upgrade_database_4_23.realm",
    "rc__test_upgrade_database_4_24.realm",
    "rc__test_upgrade_database_1000_24.realm",
    "studio__asset_file_2024-03-26_154b6ff3.realm",
    "studio__asset_file_2020-09-22_88155599.realm",
    "js__packages_realm-tools_samples_default.realm",
    "js__packages_realm_src_tests_realms_simple.realm",
    "swift__examples_ios_objc_Migration_RealmTemplates_default-v2.realm",
    "dotnet__Tests_Realm.Tests_EmbeddedResources_ForMigrationsToCopyAndMigrate.realm",
]


def exercise(path: Path) -> None:
    """Read everything a Studio window would (bounded per class to keep it quick)."""
    with RealmFile.open(path) as rf:
        rf.schema  # noqa: B018
        for cls in rf.class_names(include_internal=True):
            rf.object_schema(cls)
            links = rf.incoming_links(cls)
            objs = rf.objects(cls)
            len(objs)
            for i, obj in enumerate(objs):
                if i >= 60:
                    break
                obj.to_dict()
                for origin, prop in links:
                    obj.linking_objects(origin, prop)
            if len(objs):
                objs[len(objs) - 1].to_dict()


def mutate(data: bytearray, rng: random.Random) -> bytearray:
    mode = rng.random()
    if mode < 0.15:
        return data[: rng.randrange(len(data))]  # truncated
    if mode < 0.55:
        # Hit node headers and refs: 8-byte aligned words are where they live.
        for _ in range(rng.choice([1, 1, 2, 3])):
            pos = rng.randrange(len(data) // 8) * 8 + rng.choice([0, 0, 1, 4, 5, 7])
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        return data
    for _ in range(rng.choice([1, 2, 4, 16])):
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
    return data


def test_fuzzed_files_only_ever_raise_realm_file_errors(corpus: Path, tmp_path: Path) -> None:
    rng = random.Random(20240812)
    originals = {name: (corpus / name).read_bytes() for name in FUZZ_FILES}
    outcomes: dict[str, int] = {}
    started = time.monotonic()
    for i in range(300):
        name = rng.choice(FUZZ_FILES)
        data = mutate(bytearray(originals[name]), rng)
        path = tmp_path / f"fuzz{i}.realm"
        path.write_bytes(bytes(data))
        try:
            exercise(path)
            outcome = "read"
        except RealmFileError as exc:
            outcome = type(exc).__name__
            assert str(exc), "errors must say what was wrong"
        except Exception as exc:  # pragma: no cover - the failure this test exists for
            pytest.fail(f"mutation {i} of {name}: {type(exc).__name__} escaped: {exc}")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        path.unlink()
    assert outcomes.get("CorruptRealmError", 0) > 30  # the mutations did hit structure
    assert time.monotonic() - started < 60


def _single_table(b: Builder, cluster: int, cols: list[tuple[str, int, int]]) -> int:
    spec = b.spec(
        [c[0] for c in cols],
        [c[1] for c in cols],
        [c[2] for c in cols],
        [i | (c[1] << 16) | ((c[2] & 0xFF) << 22) for i, c in enumerate(cols)],
    )
    table = b.table(spec, cluster, 0, [0x7FFFFFFF] * len(cols), [0] * len(cols))
    return b.group(["class_T"], [table])


def _patch_ref(b: Builder, array: int, index: int, ref: int) -> None:
    """Point element ``index`` of a 64-bit-wide array at ``ref``."""
    at = array + 8 + 8 * index
    b.data[at : at + 8] = ref.to_bytes(8, "little")


def test_a_cycle_in_the_object_tree_is_reported(write_file: Write) -> None:
    b = Builder()
    leaf = b.cluster(1, [b.ints([5])])
    inner = b.ints([0, tagged(1), tagged(2), leaf, 8], refs=True, inner=True, width=64)
    _patch_ref(b, inner, 4, inner)  # the second child is the node itself
    path = write_file(b.finish(_single_table(b, inner, [("v", INT, 0)])))
    with RealmFile.open(path) as rf, pytest.raises(CorruptRealmError, match="reachable twice"):
        list(rf.objects("T"))


def test_a_nested_mixed_list_containing_itself_is_reported(write_file: Write) -> None:
    b = Builder()
    # ArrayMixed = [composite, ints, pairs, strings, refs]; its one value is a list
    # (type 19 + 1, payload slot 4) whose ref points back at this very array.
    composite = b.ints([(0 << 8) | (4 << 5) | 20])
    refs = b.ints([8], refs=True, width=64)
    top = b.ints([composite, 0, 0, 0, refs], refs=True)
    _patch_ref(b, refs, 0, top)
    path = write_file(b.finish(_single_table(b, b.cluster(1, [top]), [("any", MIXED, NULLABLE)])))
    with RealmFile.open(path) as rf, pytest.raises(CorruptRealmError, match="nested more than"):
        rf.objects("T")[0]["any"]


def test_refs_out_of_bounds_and_bad_nodes_name_the_offset(write_file: Write) -> None:
    b = Builder()
    good = b.ints([1, 2, 3])
    lists = b.ints([good, 1 << 40], refs=True)
    path = write_file(b.finish(_single_table(b, b.cluster(2, [lists]), [("l", INT, LIST)])))
    with RealmFile.open(path) as rf:
        first, second = rf.objects("T")
        assert first["l"] == [1, 2, 3]
        with pytest.raises(CorruptRealmError, match=r"not a valid node position"):
            second["l"]
    data = bytearray(path.read_bytes())
    data[good + 3] = ord("B")  # the 'A' marker of a node header
    with (
        RealmFile.open(write_file(bytes(data))) as rf,
        pytest.raises(
            CorruptRealmError, match=f"at offset {good} does not start with a node header"
        ) as info,
    ):
        rf.objects("T")[0]["l"]
    assert info.value.offset == good


def test_truncated_files(corpus: Path, write_file: Write) -> None:
    data = (corpus / "rc__test_upgrade_database_20.realm").read_bytes()  # streaming form
    with pytest.raises(CorruptRealmError, match="footer lacks the magic cookie"):
        RealmFile.open(write_file(data[:-5]))
    data = (corpus / "studio__asset_file_2024-03-26_154b6ff3.realm").read_bytes()
    with pytest.raises(CorruptRealmError, match=r"outside the file|not a valid node position"):
        RealmFile.open(write_file(data[:3000]))
    with pytest.raises(RealmFileError):
        RealmFile.open(write_file(data[:20]))


def test_absurd_depths_and_sizes(write_file: Write) -> None:
    b = Builder()
    leaf = b.cluster(1, [b.ints([5])])
    node = leaf
    for _ in range(80):  # far deeper than any real tree
        node = b.cluster_inner([node], depth=1, size=1)
    path = write_file(b.finish(_single_table(b, node, [("v", INT, 0)])))
    with RealmFile.open(path) as rf, pytest.raises(CorruptRealmError, match="deeper than"):
        rf.objects("T")[0]
    b = Builder()
    huge = b.ints([tagged(10**9), b.ints([5])], refs=True)  # a cluster claiming 10**9 objects
    path = write_file(b.finish(_single_table(b, huge, [("v", INT, 0)])))
    with RealmFile.open(path) as rf, pytest.raises(CorruptRealmError):
        len(rf.objects("T"))
