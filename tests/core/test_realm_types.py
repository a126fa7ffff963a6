"""Every property type of docs/design.md ("Types and their Python values") round-trips:
required, optional, in lists, sets and dictionaries, and inside mixed; read back through
the writing realm and through a second Realm instance on the same file (so the values
really are on disk)."""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.core import (
    MissingValueError,
    ObjectId,
    Realm,
    RealmObject,
    ValueTypeError,
)

_pks = itertools.count(1)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _dates() -> st.SearchStrategy[datetime]:
    utc = st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    )
    offset = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
    other = st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offset
    )
    return utc | other


STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "bool": st.booleans(),
    "int": st.integers(INT64_MIN, INT64_MAX),
    "float": st.floats(),
    "double": st.floats(),
    "string": st.text() | st.sampled_from(["", "\x00", "a\x00b", "日本語 ✓ 🎉", "\U0010ffff"]),
    "data": st.binary(max_size=64),
    "date": _dates(),
    "objectId": st.binary(min_size=12, max_size=12).map(ObjectId),
    "uuid": st.uuids(),
    "decimal128": st.decimals(),
}
PRIMITIVES = list(STRATEGIES)
MIXED = st.one_of(st.none(), *(STRATEGIES[t] for t in PRIMITIVES if t != "float"))

_DICT_KEYS = st.text(max_size=8).filter(lambda k: not k.startswith("$") and "." not in k)


def same(a: Any, b: Any) -> bool:
    """``a`` (read back) equals ``b`` (written) with the same type: NaN equals NaN,
    datetimes are the same instant and come back in UTC, decimals keep their digits."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return str(a) == str(b)
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b and a.tzinfo is not None and a.utcoffset() == timedelta(0)
    return type(a) is type(b) and a == b


def same_list(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))


def set_key(type_name: str, value: Any) -> Any:
    """Which values a set treats as one: NaNs are one value; decimals compare numerically."""
    if value is None:
        return None
    if isinstance(value, float):
        return "nan" if math.isnan(value) else value
    if isinstance(value, Decimal):
        if value.is_nan():
            return "nan"
        return value if type_name == "decimal128" else str(value)
    if isinstance(value, bool):
        return ("bool", value)
    return (type(value).__name__, value)


def _required_values() -> dict[str, Any]:
    return {"bool": True, "int": 1, "float": 1.0, "double": 1.0, "string": "", "data": b"",
            "date": datetime(2000, 1, 1, tzinfo=UTC), "objectId": ObjectId(),
            "uuid": uuid.uuid4(), "decimal128": Decimal(1)}


@pytest.fixture(scope="module")
def second(types_realm: Realm) -> Iterator[Realm]:
    """Another Realm instance on the same file, refreshed before each read."""
    other = Realm.open(types_realm.path)
    yield other
    other.close()


def _create(realm: Realm, values: dict[str, Any]) -> RealmObject:
    """An AllTypes object with ``values`` (and defaults for the other required ones)."""
    pk = next(_pks)
    with realm.write():
        realm.create("AllTypes", {"pk": pk, **_required_values(), **values})
    obj = realm.object_for_primary_key("AllTypes", pk)
    assert obj is not None
    return obj


def _both(types_realm: Realm, second: Realm, obj: RealmObject) -> list[RealmObject]:
    second.refresh()
    again = second.object_for_primary_key("AllTypes", obj.pk)
    assert again is not None
    return [obj, again]


def _round_trip(types_realm: Realm, second: Realm, t: str, value: Any, items: list[Any],
                keyed: dict[str, Any]) -> None:
    values = {
        t: value,
        f"{t}_opt": value,
        f"{t}_list": items,
        f"{t}_opt_list": [*items, None],
        f"{t}_set": items,
        f"{t}_dict": keyed,
        f"{t}_opt_dict": {**keyed, "none": None},
    }
    obj = _create(types_realm, values)
    for o in _both(types_realm, second, obj):
        assert same(o[t], value), (o[t], value)
        assert same(getattr(o, f"{t}_opt"), value)
        assert same_list(list(o[f"{t}_list"]), items)
        assert same_list(list(o[f"{t}_opt_list"]), [*items, None])
        got_set = list(o[f"{t}_set"])
        assert len(got_set) == len({set_key(t, v) for v in items})
        assert {set_key(t, v) for v in got_set} == {set_key(t, v) for v in items}
        for v in got_set:
            assert any(same(v, w) for w in items)
        got_dict = dict(o[f"{t}_dict"].items())
        assert sorted(got_dict) == sorted(keyed)
        assert all(same(got_dict[k], keyed[k]) for k in keyed)
        opt_dict = o[f"{t}_opt_dict"].to_dict()
        assert opt_dict["none"] is None and len(opt_dict) == len({**keyed, "none": None})


def _type_test(t: str) -> Callable[..., None]:
    strategy = STRATEGIES[t]

    @settings(max_examples=50, deadline=None)
    @given(
        value=strategy,
        items=st.lists(strategy, max_size=5),
        keyed=st.dictionaries(_DICT_KEYS.filter(lambda k: k != "none"), strategy, max_size=4),
    )
    def test(types_realm: Realm, second: Realm, value: Any, items: list[Any],
             keyed: dict[str, Any]) -> None:
        _round_trip(types_realm, second, t, value, items, keyed)

    test.__name__ = f"test_{t}_round_trip"
    return test


test_bool_round_trip = _type_test("bool")
test_int_round_trip = _type_test("int")
test_float_round_trip = _type_test("float")
test_double_round_trip = _type_test("double")
test_string_round_trip = _type_test("string")
test_data_round_trip = _type_test("data")
test_date_round_trip = _type_test("date")
test_object_id_round_trip = _type_test("objectId")
test_uuid_round_trip = _type_test("uuid")
test_decimal128_round_trip = _type_test("decimal128")


@settings(max_examples=50, deadline=None)
@given(value=MIXED, items=st.lists(MIXED, max_size=6),
       keyed=st.dictionaries(_DICT_KEYS, MIXED, max_size=4))
def test_mixed_round_trip(types_realm: Realm, second: Realm, value: Any, items: list[Any],
                          keyed: dict[str, Any]) -> None:
    obj = _create(types_realm, {"mixed": value, "mixed_list": items, "mixed_set": items,
                                "mixed_dict": keyed})
    for o in _both(types_realm, second, obj):
        assert same(o.mixed, value), (o.mixed, value)
        assert same_list(list(o.mixed_list), items)
        got_set = list(o.mixed_set)
        for v in got_set:
            assert any(same(v, w) for w in items)
        for w in items:
            assert any(same(v, w) for v in got_set)
        got = o.mixed_dict.to_dict()
        assert sorted(got) == sorted(keyed) and all(same(got[k], keyed[k]) for k in keyed)


@pytest.mark.parametrize("t", PRIMITIVES)
def test_every_primitive_type_is_a_valid_mixed_value(types_realm: Realm, t: str) -> None:
    sample = {
        "bool": False, "int": 7, "float": 1.5, "double": -2.25, "string": "s", "data": b"\x00",
        "date": datetime(2021, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "objectId": ObjectId("6001c033600510df3bbfd864"),
        "uuid": uuid.UUID(int=5), "decimal128": Decimal("3.14"),
    }[t]
    obj = _create(types_realm, {"mixed": sample})
    assert same(obj.mixed, sample)
    with types_realm.write():
        obj.mixed = None
    assert obj.mixed is None


def test_mixed_keeps_bool_int_float_string_data_apart(types_realm: Realm) -> None:
    values = [True, 1, 1.0, "1", b"1", Decimal(1)]
    obj = _create(types_realm, {"mixed_list": values, "mixed_set": values})
    got = list(obj.mixed_list)
    assert [type(v) for v in got] == [bool, int, float, str, bytes, Decimal]
    assert len(obj.mixed_set) == 6


def test_mixed_holds_a_link(types_realm: Realm) -> None:
    with types_realm.write():
        target = types_realm.create("Target", {"id": next(_pks), "label": "t"})
    obj = _create(types_realm, {"mixed": target, "mixed_list": [target, 3]})
    assert obj.mixed == target and obj.mixed.label == "t"
    assert list(obj.mixed_list) == [target, 3]
    with types_realm.write():
        types_realm.delete(target)
    assert obj.mixed is None


@pytest.mark.parametrize("bad", [[1, 2], {"a": 1}, object(), {1, 2}])
def test_mixed_rejects_non_values(types_realm: Realm, bad: Any) -> None:
    with pytest.raises(ValueTypeError, match="mixed"):
        _create(types_realm, {"mixed": bad})


def test_int_64_bit_bounds(types_realm: Realm) -> None:
    obj = _create(types_realm, {"int": INT64_MAX, "int_opt": INT64_MIN,
                                "int_list": [INT64_MIN, INT64_MAX, 0]})
    assert obj.int == INT64_MAX and obj.int_opt == INT64_MIN
    assert list(obj.int_list) == [INT64_MIN, INT64_MAX, 0]
    count = len(types_realm.objects("AllTypes"))
    for too_big in (INT64_MAX + 1, INT64_MIN - 1, 2**100):
        with pytest.raises(ValueTypeError, match="64"):
            _create(types_realm, {"int": too_big})
        with pytest.raises(ValueTypeError), types_realm.write():
            obj.int_list.append(too_big)
    assert len(types_realm.objects("AllTypes")) == count
    assert len(obj.int_list) == 3


@pytest.mark.parametrize("t", ["float", "double"])
def test_float_specials(types_realm: Realm, t: str) -> None:
    specials = [math.inf, -math.inf, math.nan, 0.0, 5e-324, 1.7976931348623157e308]
    obj = _create(types_realm, {t: math.nan, f"{t}_opt": math.inf, f"{t}_list": specials,
                                f"{t}_set": [math.nan, math.nan, 1.0],
                                f"{t}_dict": {"n": math.nan, "i": -math.inf}})
    assert math.isnan(obj[t])
    assert obj[f"{t}_opt"] == math.inf
    assert same_list(list(obj[f"{t}_list"]), specials)
    assert len(obj[f"{t}_set"]) == 2
    assert math.isnan(obj[f"{t}_dict"]["n"]) and obj[f"{t}_dict"]["i"] == -math.inf
    with types_realm.write():
        obj[t] = 2  # an int is a valid float
    assert obj[t] == 2.0 and isinstance(obj[t], float)
    obj2 = _create(types_realm, {"mixed": math.nan})
    assert isinstance(obj2.mixed, float) and math.isnan(obj2.mixed)


def test_strings_with_nul_and_unicode(types_realm: Realm) -> None:
    text = "a\x00b\x00\U0001f600\u00e9\u0301\ufeff"
    obj = _create(types_realm, {"string": text, "string_dict": {"k\x00": text},
                                "string_set": ["\x00", "\x00\x00", ""]})
    assert obj.string == text and len(obj.string) == len(text)
    assert obj.string_dict["k\x00"] == text
    assert sorted(obj.string_set) == sorted(["\x00", "\x00\x00", ""])


def test_dates_are_utc_with_microseconds(types_realm: Realm) -> None:
    moment = datetime(2023, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    paris = moment.astimezone(timezone(timedelta(hours=1)))
    naive = datetime(2001, 2, 3, 4, 5, 6, 7)
    early = datetime(1, 1, 1, tzinfo=UTC)
    late = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    obj = _create(types_realm, {"date": paris, "date_opt": naive,
                                "date_list": [early, late, moment]})
    assert obj.date == moment and obj.date.tzinfo is not None
    assert obj.date.utcoffset() == timedelta(0) and obj.date.microsecond == 891011
    # a naive datetime is taken as UTC, as Realm JS does with Date
    assert obj.date_opt == naive.replace(tzinfo=UTC)
    assert list(obj.date_list) == [early, late, moment]


def test_decimal128_is_exact(types_realm: Realm) -> None:
    values = [Decimal("0.1"), Decimal("-0"), Decimal("1.000"), Decimal("1E+6111"),
              Decimal("-Infinity"), Decimal("9" * 34), Decimal("1E-6143")]
    obj = _create(types_realm, {"decimal128": Decimal("0.1"), "decimal128_list": values,
                                "decimal128_opt": Decimal("NaN")})
    assert obj.decimal128 == Decimal("0.1")
    assert [str(v) for v in obj.decimal128_list] == [str(v) for v in values]
    assert obj.decimal128_opt.is_nan()
    with types_realm.write():
        obj.decimal128 = 12  # an int is a valid decimal
    assert obj.decimal128 == Decimal(12)


def test_optional_collections_hold_null(types_realm: Realm) -> None:
    obj = _create(types_realm, {"int_opt_list": [None, 1, None], "int_opt_dict": {"a": None}})
    assert list(obj.int_opt_list) == [None, 1, None]
    assert obj.int_opt_dict.to_dict() == {"a": None}


def test_optional_set_holds_one_null(types_realm: Realm) -> None:
    obj = _create(types_realm, {"mixed_set": [None, None, 1]})
    assert sorted(obj.mixed_set, key=repr) == [1, None]
    with types_realm.write():
        obj.mixed_set.add(None)
    assert len(obj.mixed_set) == 2
    with types_realm.write():
        obj.mixed_set.discard(None)
    assert list(obj.mixed_set) == [1]


def test_absent_values_are_null_or_empty(types_realm: Realm) -> None:
    obj = _create(types_realm, _required_values())
    for t in PRIMITIVES:
        assert obj[f"{t}_opt"] is None
        assert len(obj[f"{t}_list"]) == 0 and len(obj[f"{t}_set"]) == 0
        assert len(obj[f"{t}_dict"]) == 0
    assert obj.mixed is None and obj.link is None


@pytest.mark.parametrize("t", PRIMITIVES)
def test_required_primitive_must_be_given(types_realm: Realm, t: str) -> None:
    values = _required_values()
    del values[t]
    before = len(types_realm.objects("AllTypes"))
    with pytest.raises(MissingValueError, match=t), types_realm.write():
        types_realm.create("AllTypes", {"pk": next(_pks), **values})
    assert len(types_realm.objects("AllTypes")) == before


WRONG: dict[str, list[Any]] = {
    "bool": [1, "true", None],
    "int": [1.5, "1", True, None, Decimal(1)],
    "float": ["1.0", True, None, Decimal("1.5")],
    "double": ["1.0", False, None],
    "string": [b"x", 1, None],
    "data": ["x", 1, None],
    "date": ["2020-01-01", 1600000000, None],
    "objectId": ["6001c033600510df3bbfd864", b"x" * 12, None],
    "uuid": [str(uuid.UUID(int=1)), uuid.UUID(int=1).bytes, None],
    "decimal128": ["1.5", 1.5, None],
}


@pytest.mark.parametrize(("t", "bad"), [(t, v) for t, vs in WRONG.items() for v in vs])
def test_wrong_value_type_is_a_clear_error(types_realm: Realm, t: str, bad: Any) -> None:
    obj = _create(types_realm, _required_values())
    before = obj[t]
    with pytest.raises(ValueTypeError, match=t), types_realm.write():
        obj[t] = bad
    assert same(obj[t], before)
    if bad is not None:
        with pytest.raises(ValueTypeError), types_realm.write():
            obj[f"{t}_list"].append(bad)
        with pytest.raises(ValueTypeError), types_realm.write():
            obj[f"{t}_set"].add(bad)
        with pytest.raises(ValueTypeError), types_realm.write():
            obj[f"{t}_dict"]["k"] = bad
    with pytest.raises(ValueTypeError), types_realm.write():
        obj[f"{t}_list"].append(None)  # a required list holds no nulls
    assert len(obj[f"{t}_list"]) == 0 and len(obj[f"{t}_dict"]) == 0


def test_links_in_every_collection_kind(types_realm: Realm, second: Realm) -> None:
    with types_realm.write():
        a = types_realm.create("Target", {"id": next(_pks), "label": "a"})
        b = types_realm.create("Target", {"id": next(_pks), "label": "b"})
    obj = _create(types_realm, {"link": a, "link_list": [a, b, a], "link_set": [a, b, a],
                                "link_dict": {"x": a, "y": None}})
    for o in _both(types_realm, second, obj):
        assert o.link.label == "a"
        assert [t.label for t in o.link_list] == ["a", "b", "a"]
        assert sorted(t.label for t in o.link_set) == ["a", "b"]
        d = o.link_dict.to_dict()
        assert d["x"].label == "a" and d["y"] is None
    with pytest.raises(ValueTypeError), types_realm.write():
        obj.link_list.append(5)
    with pytest.raises(ValueTypeError), types_realm.write():
        obj.link = obj  # an AllTypes is not a Target


def test_to_dict_gives_plain_values(types_realm: Realm) -> None:
    with types_realm.write():
        target = types_realm.create("Target", {"id": next(_pks)})
    values = _required_values()
    obj = _create(types_realm, {**values, "int_list": [1, 2], "string_set": ["x"],
                                "int_dict": {"a": 1}, "link": target, "link_list": [target]})
    plain = obj.to_dict()
    for t, v in values.items():
        assert same(plain[t], v)
    assert plain["int_list"] == [1, 2] and plain["string_set"] == ["x"]
    assert plain["int_dict"] == {"a": 1}
    assert plain["link"] == target.id and plain["link_list"] == [target.id]
    assert type(plain["int_list"]) is list and type(plain["int_dict"]) is dict


def test_values_survive_reopen(tmp_path: Path, all_types: list[dict[str, Any]]) -> None:
    path = tmp_path / "reopen.realm"
    values = {**_required_values(), "pk": 1, "string_list": ["a", "b"], "mixed": Decimal("2.5"),
              "date_dict": {"d": datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)}}
    with Realm.open(path, schema=all_types) as realm, realm.write():
        realm.create("AllTypes", values)
    with Realm.open(path) as realm:
        obj = realm.object_for_primary_key("AllTypes", 1)
        assert obj is not None
        for name, value in values.items():
            got = obj[name]
            if name.endswith("_list"):
                got = list(got)
            elif name.endswith("_dict"):
                got = got.to_dict()
                assert got.keys() == value.keys() and all(same(got[k], value[k]) for k in value)
                continue
            assert same(got, value) if not isinstance(value, list) else got == value


@settings(max_examples=50, deadline=None)
@given(
    link=st.none() | st.integers(0, 3),
    picks=st.lists(st.integers(0, 3), max_size=8),
    keyed=st.dictionaries(_DICT_KEYS, st.none() | st.integers(0, 3), max_size=4),
)
def test_object_collections_round_trip(
    types_realm: Realm, second: Realm, link: int | None, picks: list[int],
    keyed: dict[str, int | None],
) -> None:
    with types_realm.write():
        targets = [types_realm.create("Target", {"id": next(_pks), "label": f"t{i}"})
                   for i in range(4)]
    ids = [t.id for t in targets]
    obj = _create(types_realm, {
        "link": None if link is None else targets[link],
        "link_list": [targets[i] for i in picks],
        "link_set": [targets[i] for i in picks],
        "link_dict": {k: None if v is None else targets[v] for k, v in keyed.items()},
        "mixed_list": [targets[i] for i in picks],
    })
    for o in _both(types_realm, second, obj):
        assert (o.link.id if o.link is not None else None) == (
            None if link is None else ids[link])
        assert [t.id for t in o.link_list] == [ids[i] for i in picks]
        assert sorted(t.id for t in o.link_set) == sorted({ids[i] for i in picks})
        got = o.link_dict.to_dict()
        assert {k: (v.id if v is not None else None) for k, v in got.items()} == {
            k: (None if v is None else ids[v]) for k, v in keyed.items()}
        assert [t.id for t in o.mixed_list] == [ids[i] for i in picks]
