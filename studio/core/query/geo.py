"""Geospatial queries: ``location geoWithin geoCircle([lng, lat], radians)``,
``geoBox([lng, lat], [lng, lat])``, ``geoPolygon({[lng, lat], ...}, {hole...})``.

As in realm-js, a point is an embedded object shaped as a GeoJSON Point: a string
property ``type`` equal to ``"Point"`` and a list of doubles ``coordinates``
holding ``[longitude, latitude]`` (an altitude may follow, it is ignored). Shapes:

- geoCircle(center, radius): the great-circle (haversine) distance from the center,
  in radians of the Earth's sphere, is at most ``radius``;
- geoBox(bottomLeft, topRight): latitude between the two latitudes, longitude
  between the two longitudes, going east from the bottom-left one (a box may cross
  the antimeridian when its left longitude is greater than its right one);
- geoPolygon(outer, hole...): inside the outer ring and outside every hole. Rings
  are closed (first point repeated last) and have at least three distinct points.
  Edges are straight lines in longitude/latitude (Realm's S2 uses great-circle
  edges: the two agree for small polygons; see docs/query-language.md).

The test runs per candidate row in the Python SQL function ``rql_geo_within``
(there is no spatial index): the compiled condition reads the point's
coordinates from its embedded object's rows and passes the shape as JSON.
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from studio.core.query import nodes
from studio.core.query.context import Cond, Context, Scope
from studio.core.query.paths import resolve_value
from studio.core.storage import KEY, add_connection_hook, class_table, collection_table, column

Point = tuple[float, float]  # (lng, lat) in degrees


def geo_within(ctx: Context, node: nodes.GeoWithin, scope: Scope, shape: dict[str, Any]
               ) -> Cond:
    """``node.path geoWithin shape`` as a call of ``rql_geo_within`` per candidate row."""
    value = resolve_value(ctx, node.path, scope)
    cls = ctx.schema.get(value.object_class or "") if value.type == "object" else None
    type_prop = cls.get("type") if cls is not None else None
    coords = cls.get("coordinates") if cls is not None else None
    if (
        cls is None or value.multi is not None or type_prop is None or coords is None
        or type_prop.type != "string" or type_prop.collection is not None
        or coords.type not in ("double", "float") or coords.collection != "list"
    ):
        raise ctx.error(
            f"geoWithin needs a link to a GeoJSON point object on its left (an embedded "
            "class with a string property 'type' and a list of doubles 'coordinates'); "
            f"found '{node.path.text}'",
            node.pos,
        )
    ctx.dependencies.add(cls.name)  # a moved point re-runs the query
    table = collection_table(cls.name, coords)
    key = value.sql

    def coordinate(pos: int) -> str:
        return f"(SELECT value FROM {table} WHERE owner = {key} AND pos = {pos})"

    point_type = f"(SELECT {column('type')} FROM {class_table(cls.name)} WHERE {KEY} = {key})"
    sql = (f"rql_geo_within(?, {point_type}, {coordinate(0)}, {coordinate(1)})")
    return Cond(sql, [*value.params, json.dumps(shape)], False)


# -- shapes: from the syntax tree or an argument --------------------------------------------


def shape_from_node(ctx: Context, shape: nodes.GeoShape,
                    number: Any) -> dict[str, Any]:
    """The shape as plain data, with ``number(operand)`` turning each coordinate into a
    float (literals and arguments)."""
    points = [[(number(lng), number(lat)) for lng, lat in loop] for loop in shape.loops]
    if shape.kind == "circle":
        return _circle(ctx, points[0][0], number(shape.radius), shape.pos)
    if shape.kind == "box":
        return _box(ctx, points[0][0], points[0][1], shape.pos)
    return _polygon(ctx, points, shape.pos)


def shape_from_argument(ctx: Context, value: Any, pos: int) -> dict[str, Any]:
    """A realm-js shape given as an argument: GeoCircle ``{center, distance}``, GeoBox
    ``{bottomLeft, topRight}`` or GeoPolygon ``{outerRing, holes}`` (points as
    ``[lng, lat]`` or ``{longitude, latitude}``)."""
    if isinstance(value, Mapping):
        if "center" in value and "distance" in value:
            return _circle(ctx, _point(ctx, value["center"], pos), _float(ctx, value["distance"],
                                                                           pos), pos)
        if "bottomLeft" in value and "topRight" in value:
            return _box(ctx, _point(ctx, value["bottomLeft"], pos),
                        _point(ctx, value["topRight"], pos), pos)
        if "outerRing" in value:
            rings = [value["outerRing"], *value.get("holes", ())]
            return _polygon(ctx, [[_point(ctx, p, pos) for p in ring] for ring in rings], pos)
    raise ctx.error(
        "geoWithin needs a shape argument: {center, distance}, {bottomLeft, topRight} or "
        "{outerRing, holes}",
        pos,
    )


def _point(ctx: Context, value: Any, pos: int) -> Point:
    if isinstance(value, Mapping) and "longitude" in value and "latitude" in value:
        return _float(ctx, value["longitude"], pos), _float(ctx, value["latitude"], pos)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) in (2, 3):
        return _float(ctx, value[0], pos), _float(ctx, value[1], pos)
    raise ctx.error(f"a geo point is [longitude, latitude]; found {value!r}", pos)


def _float(ctx: Context, value: Any, pos: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ctx.error(f"a geo coordinate or distance must be a number; found {value!r}", pos)
    return float(value)


def _check_point(ctx: Context, point: Point, pos: int) -> Point:
    lng, lat = point
    if not (-180.0 <= lng <= 180.0 and -90.0 <= lat <= 90.0) or math.isnan(lng + lat):
        raise ctx.error(
            f"invalid geo point [{lng:g}, {lat:g}]: longitude must be within [-180, 180] and "
            "latitude within [-90, 90] (points are [longitude, latitude])",
            pos,
        )
    return point


def _circle(ctx: Context, center: Point, radius: float, pos: int) -> dict[str, Any]:
    _check_point(ctx, center, pos)
    if not radius >= 0 or math.isinf(radius):
        raise ctx.error(f"the radius of geoCircle must be a non-negative number of radians; "
                        f"found {radius:g}", pos)
    return {"kind": "circle", "center": list(center), "radius": radius}


def _box(ctx: Context, bottom_left: Point, top_right: Point, pos: int) -> dict[str, Any]:
    _check_point(ctx, bottom_left, pos)
    _check_point(ctx, top_right, pos)
    if bottom_left[1] > top_right[1]:
        raise ctx.error("geoBox needs the bottom-left point first: its latitude is above the "
                        "top-right one's", pos)
    return {"kind": "box", "lo": list(bottom_left), "hi": list(top_right)}


def _polygon(ctx: Context, rings: list[list[Point]], pos: int) -> dict[str, Any]:
    for ring in rings:
        for point in ring:
            _check_point(ctx, point, pos)
        if len(ring) < 4 or ring[0] != ring[-1]:
            raise ctx.error(
                "a geoPolygon ring needs at least 3 distinct points and must be closed (its "
                "first point repeated last)",
                pos,
            )
        if len(set(ring[:-1])) < 3:
            raise ctx.error("a geoPolygon ring needs at least 3 distinct points", pos)
    return {"kind": "polygon", "rings": [[list(p) for p in ring] for ring in rings]}


# -- the test per row ------------------------------------------------------------------------


def within(shape_json: str, point_type: Any, lng: Any, lat: Any) -> int:
    """``rql_geo_within``: 1 when the stored point is inside the shape."""
    if point_type != "Point" or not isinstance(lng, int | float) or not isinstance(
        lat, int | float
    ):
        return 0
    shape = _parsed(shape_json)
    kind = shape["kind"]
    if kind == "circle":
        clng, clat = shape["center"]
        return int(haversine(clng, clat, lng, lat) <= shape["radius"])
    if kind == "box":
        (lo_lng, lo_lat), (hi_lng, hi_lat) = shape["lo"], shape["hi"]
        if not lo_lat <= lat <= hi_lat:
            return 0
        if lo_lng <= hi_lng:
            return int(lo_lng <= lng <= hi_lng)
        return int(lng >= lo_lng or lng <= hi_lng)  # across the antimeridian
    outer, *holes = shape["rings"]
    return int(_in_ring(lng, lat, outer) and not any(_in_ring(lng, lat, h) for h in holes))


@lru_cache(maxsize=64)
def _parsed(shape_json: str) -> dict[str, Any]:
    shape: dict[str, Any] = json.loads(shape_json)
    return shape


def haversine(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Great-circle distance in radians between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * math.asin(min(1.0, math.sqrt(a)))


def _in_ring(lng: float, lat: float, ring: list[list[float]]) -> bool:
    """Even-odd rule; a point on an edge counts as inside."""
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if _on_segment(lng, lat, x1, y1, x2, y2):
            return True
        if (y1 > lat) != (y2 > lat):
            crossing = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lng < crossing:
                inside = not inside
    return inside


def _on_segment(x: float, y: float, x1: float, y1: float, x2: float, y2: float) -> bool:
    cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
    if abs(cross) > 1e-12:
        return False
    return min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2)


def register(conn: sqlite3.Connection) -> None:
    """Define ``rql_geo_within`` on ``conn`` (a connection hook of the store)."""
    conn.create_function("rql_geo_within", 4, within, deterministic=True)


add_connection_hook(register)
