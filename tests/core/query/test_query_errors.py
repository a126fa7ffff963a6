"""Bad queries raise QueryError with the 0-based position of the problem and a message
that says what was found and what was expected. Type mismatches are errors, never
empty results."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rql_fixtures import RawRealm, Ref

from studio.core import errors
from studio.core.errors import QueryError
from studio.core.query import QueryPlan, SortKey

REX = Ref(1, "Dog")

# (query, args, position, a fragment of the message)
ERRORS: list[tuple[str, tuple[Any, ...], int, str]] = [
    # syntax
    ("", (), 0, "expected a predicate"),
    ("   ", (), 3, "expected a predicate"),
    ("age >", (), 5, "found the end of the query"),
    ("age = = 3", (), 6, "found '='"),
    ("(age > 3", (), 8, "expected ')'"),
    ("age > 3)", (), 7, "expected AND, OR, SORT, DISTINCT, LIMIT or the end of the query"),
    ("age > 3 AND", (), 11, "expected a comparison"),
    ("age > 3 garbage", (), 8, "found 'garbage'"),
    ("age == 1 2", (), 9, "found '2'"),
    ("age == 1.2.3", (), 10, "found '.3'"),
    ("age == #", (), 7, "unexpected character '#'"),
    ("age == $", (), 7, "expected an argument ($0, $1, ...)"),
    ("NOT", (), 3, "expected a comparison"),
    ("age", (), 3, "expected a comparison operator"),
    ("TRUEPREDICATE == 1", (), 14, "found '=='"),
    ("name == 'abc", (), 8, "unterminated string"),
    ('name == "abc', (), 8, "unterminated string"),
    ("name == 'a\\q'", (), 10, "unknown escape sequence '\\q'"),
    ("oid == oid(123)", (), 7, "malformed oid(...) literal"),
    ("uid == uuid(1234)", (), 7, "malformed uuid(...) literal"),
    ('B64"!!" == photo', (), 0, 'malformed B64"..." literal'),
    ('photo == B64"AQ=A"', (), 9, "invalid base64"),
    ("born == 2020-13-01@00:00:00", (), 8, "month must be in 1..12"),
    ("born == T1:-5", (), 8, "same sign"),
    ("born == T1:1000000000", (), 8, "nanoseconds must be below"),
    ("age <[c] 3", (), 5, "'[c]' cannot follow '<'"),
    ("age BETWEEN {1}", (), 12, "BETWEEN needs exactly two values"),
    ("age BETWEEN {1, 2, 3}", (), 12, "found 3"),
    ("age BETWEEN 5", (), 12, "expected '{low, high}' after BETWEEN"),
    ("scores[5] == 1", (), 7, "a 'key' string or an argument inside [ ]"),
    ("SUBQUERY(friends, x, x.age > 1).@count > 0", (), 18, "a variable such as $x"),
    ("SUBQUERY(friends, $x, $x.age > 1) > 0", (), 34, "'.@count' after SUBQUERY"),
    ("SUBQUERY(friends $x, $x.age > 1).@count > 0", (), 17, "',' after the SUBQUERY collection"),
    ("age > 3 LIMIT(-1)", (), 14, "a non-negative whole number"),
    ("age > 3 LIMIT(x)", (), 14, "a non-negative whole number"),
    ("age > 3 LIMIT(1", (), 15, "expected ')'"),
    ("age > 3 DISTINCT()", (), 17, "a key path in DISTINCT"),
    ("age > 3 SORT(age ASC", (), 20, "ASC, DESC, ',' or ')'"),
    ("age > 3 SORT(age ASC) garbage", (), 22, "found 'garbage'"),
    ("ALL {1, 2} == nums", (), 11, "comparing two lists is not supported"),
    ("age IN ANY {1, 2}", (), 7, "IN takes a plain list"),
    ("ANY $0 == age", (3,), 0, "ANY before an argument needs a list argument"),
    ("{1} == {2}", (), 0, "cannot compare two constants"),
    ("ANY {1, {2}} == age", (), 8, "expected a constant value or an argument in the list"),
    ("NONE {'a'} == age", (), 6, "cannot compare an int value with a string"),
    ("age IN {name}", (), 8, "a constant value or an argument in the list"),
    ("ANY", (), 3, "expected a comparison operator"),
    ("age == AND", (), 7, "expected a property, a value"),
    # schema
    ("nope == 3", (), 0, "class Person has no property 'nope'"),
    ("dog.nope == 1", (), 4, "class Dog has no property 'nope'"),
    ("name['x'] == 1", (), 0, "'[...]' only applies to dictionaries"),
    ("dog.@count > 1", (), 4, "'@count' must follow a list"),
    ("@links.Dog.owners.@count > 0", (), 11, "Dog.owners does not link to Person"),
    ("@links.Person.nope.@count > 0", (), 14, "class Person has no property 'nope'"),
    ("@links.Nope.x.@count > 0", (), 7, "no class 'Nope' in the schema"),
    ("@links.Person > 1", (), 7, "expected @links.<Class>.<property> or @links.@count"),
    ("nums.@count.foo > 1", (), 12, "nothing may follow @count"),
    ("friends.@sum > 1", (), 8, "@sum over objects needs a property"),
    ("nums.@sum.x > 1", (), 10, "nothing may follow @sum on a collection of values"),
    ("friends.@sum.age.name > 1", (), 17, "'name' cannot follow an int value"),
    ("dog.name.foo == 1", (), 9, "'foo' cannot follow a string value"),
    ("age.length > 1", (), 4, "'length' cannot follow an int value"),
    ("name.@type == 'string'", (), 5, "'@type' cannot follow a string value"),
    ("SUBQUERY(age, $x, $x > 1).@count > 0", (), 9, "SUBQUERY needs a list"),
    ("SUBQUERY(friends, $x, $y.age > 1).@count > 0", (), 22, "unknown variable $y"),
    ("SUBQUERY(friends, $x, SUBQUERY($x.friends, $x, $x.age > 1).@count > 0).@count > 0",
     (), 22, "variable $x is already defined"),
    ("$x.age > 1", (), 0, "unknown variable $x"),
    ("age > 3 SORT(friends ASC)", (), 13, "goes through a list"),
    ("age > 3 SORT(dog ASC)", (), 13, "not a link"),
    ("age > 3 SORT(nope ASC)", (), 13, "class Person has no property 'nope'"),
    ("age > 3 SORT(nums.@count ASC)", (), 18, "SORT needs a key path of properties"),
    ("age > 3 DISTINCT(tags)", (), 17, "goes through a list"),
    ("age > 3 SORT(ANY dog.name ASC)", (), 17, "found 'dog'"),
    # types
    ("age == 'x'", (), 7, "cannot compare an int value with a string"),
    ("age == '30'", (), 7, "cannot compare an int value with a string"),
    ("alive CONTAINS true", (), 6, "CONTAINS needs a string or binary property, found a bool"),
    ("born == 1", (), 8, "cannot compare a date value with a number"),
    ("dog > $0", (REX,), 4, "operator '>' is not supported for a link to Dog"),
    ("dog == 5", (), 7, "cannot compare a link to Dog with a number"),
    ("dog == $0", (Ref(1, "Toy"),), 7, "cannot compare a link to Dog with an object of class Toy"),
    ("dog == name", (), 4, "cannot compare a link to Dog with a string value"),
    ("name BEGINSWITH 5", (), 16, "cannot compare a string value with a number"),
    ("age BEGINSWITH 5", (), 4, "BEGINSWITH needs a string or binary property"),
    ("name LIKE 5", (), 10, "cannot compare a string value with a number"),
    ("age ==[c] 3", (), 4, "[c]/[d] apply to strings and binary data"),
    ("name ==[c] 3", (), 11, "cannot compare a string value with a number"),
    ("age == true", (), 7, "cannot compare an int value with a bool"),
    ("alive == 1", (), 9, "cannot compare a bool value with a number"),
    ("score == 'x'", (), 9, "cannot compare a decimal128 value with a string"),
    ("uid < uuid(00000000-0000-0000-0000-000000000002)", (), 4,
     "operator '<' is not supported for a uuid value"),
    ("uid > $0", (uuid.UUID(int=1),), 4, "not supported for a uuid value"),
    ("oid == uuid(00000000-0000-0000-0000-000000000002)", (), 7,
     "cannot compare an objectId value with a uuid"),
    ("born == oid(000000000000000000000001)", (), 8,
     "cannot compare a date value with an objectId"),
    ("photo == 5", (), 9, "cannot compare a data value with a number"),
    ("m.@type == 'weird'", (), 11, "unknown type name 'weird'"),
    ("m.@type > 'int'", (), 8, "operator '>' is not supported for a type name"),
    ("m CONTAINS 5", (), 11, "CONTAINS on a mixed property needs a string"),
    ("tags == 5", (), 8, "cannot compare a string value with a number"),
    ("nums.@min == 'x'", (), 13, "cannot compare an int value with a string"),
    ("nums.@sum == 'a'", (), 13, "cannot compare an int value with a string"),
    ("tags.@avg > 1", (), 5, "@avg needs numbers; found a string value"),
    ("friends.@avg.name > 1", (), 8, "@avg needs numbers; found a string value"),
    ("tags.@min == 'a'", (), 5, "@min needs numbers or dates; found a string value"),
    ("age > null", (), 6, "null can only be compared with == or !="),
    ("name CONTAINS null", (), 14, "null can only be compared with == or !="),
    ("friends == null", (), 11, "a list of objects cannot be compared with null"),
    ("age BETWEEN {1, null}", (), 16, "the bounds of BETWEEN must be values"),
    ("3 == 4", (), 0, "cannot compare two constants"),
    ("$0 == 4", (1,), 0, "cannot compare two constants"),
    ("'abc' BEGINSWITH name", (), 0, "the left side of BEGINSWITH must be a property"),
    ("friends.age == nums", (), 12, "comparing two lists is not supported"),
    ("ALL friends.age > ALL nums", (), 16, "comparing two lists is not supported"),
    ("friends.age IN nums", (), 12, "comparing two lists is not supported"),
    ("ALL age > 3", (), 0, "ALL needs a key path through a list"),
    ("NONE dog.name == 'x'", (), 0, "NONE needs a key path through a list"),
    ("age IN 3", (), 7, "IN needs a list"),
    ("age IN name", (), 7, "this key path has a single value"),
    ("age IN $0", (3,), 7, "IN needs a list"),
    # arguments
    ("age == $3", (1,), 7, "argument $3 was not given (the query has 1 argument)"),
    ("age == $1", (1,), 7, "argument $1 was not given"),
    ("age == $0", ("x",), 7, "cannot compare an int value with a string"),
    ("age == $0", (object(),), 7, "argument $0: unsupported argument type object"),
    ("age == $0", ([1, 2],), 7, "a list can only follow IN or BETWEEN"),
    ("age IN $0", ([[1]],), 7, "cannot contain lists"),
    ("age BETWEEN $0", ([1],), 12, "BETWEEN needs two values"),
    ("age BETWEEN $0", (5,), 12, "BETWEEN needs two values"),
    ("scores[$0] == 1", (5,), 7, "a dictionary key must be a string"),
    ("scores[$1] == 1", (5,), 7, "argument $1 was not given"),
    ("name == $0", ({"a": 1},), 8, "unsupported argument type dict"),
]


@pytest.mark.parametrize("case", ERRORS, ids=lambda case: case[0] or "<empty>")
def test_error(people: RawRealm, case: tuple[str, tuple[Any, ...], int, str]) -> None:
    query, args, position, fragment = case
    with pytest.raises(QueryError) as info:
        people.query("Person", query, *args)
    error = info.value
    assert fragment in error.message, error.message
    assert error.position == position, (error.position, error.message)
    assert error.query == query
    if query:  # QueryError names the position when it has the query text
        assert f"(at position {position})" in str(error)


def test_query_error_is_a_value_error_and_realm_error() -> None:
    assert issubclass(QueryError, ValueError)
    assert issubclass(QueryError, errors.RealmError)


def test_sorted_and_distinct_validate_their_key_paths(people: RawRealm) -> None:
    plan = people.plan("Person")
    with pytest.raises(QueryError) as info:
        plan.sorted([SortKey("dog.nope")])
    assert (info.value.position, info.value.query) == (4, "dog.nope")
    with pytest.raises(QueryError, match="goes through a list"):
        plan.sorted([SortKey("friends.name")])
    with pytest.raises(QueryError, match="not a link"):
        plan.distinct(["dog"])
    with pytest.raises(QueryError, match="expected the end of the key path"):
        plan.sorted([SortKey("name ==")])
    with pytest.raises(QueryError, match="non-negative int"):
        plan.limited(-1)
    with pytest.raises(QueryError, match="no class 'Nope'"):
        QueryPlan(people.schema, "Nope")


def test_errors_do_not_depend_on_data() -> None:
    # Type errors come from the schema alone: an empty realm raises the same error.
    from rql_data import SCHEMA

    empty = RawRealm(SCHEMA)
    with pytest.raises(QueryError, match="cannot compare an int value with a string"):
        empty.query("Person", "age == 'x'")
