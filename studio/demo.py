"""The demo realm: a small lending library that shows off every property type.

The schema lives in ``studio/resources/demo_schema.json`` (package data); this module fills
it with a few hundred objects drawn from a seeded :class:`random.Random`, without reading the
clock, so every run produces the same objects (``studio demo-realm`` and the
Studio's "open the demo" both use it). What a demo realm holds, per type:

* bool, int, float, double, string, data (tiny PNG covers), date, objectId,
  uuid, decimal128, mixed (each kind of value, and links), optional values;
* lists of links (``Book.authors``), of embedded objects (``Book.reviews``) and of
  optional primitives (``Member.readingMinutes``); sets of strings and of links;
  dictionaries of ints, strings, mixed values and links;
* to-one links, embedded objects (``Edition``, ``Review``, ``Address``), backlinks
  (``Author.books``, ``Book.loans``...) and a class without a primary key (``Shelf``).
"""

from __future__ import annotations

import json
import os
import random
import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from studio import resources
from studio.core import FileFormatError, ObjectId, Realm, RealmError, RealmObject
from studio.core.realm import sniff_file

DEMO_SEED = 20240521
DEMO_SCHEMA = "demo_schema.json"  # in studio.resources

AUTHORS = 40
BOOKS = 150
MEMBERS = 60
LOANS = 320
SHELVES = 12

_BASE = datetime(2015, 1, 1, tzinfo=UTC)

_FIRST = (
    "Ada", "Ben", "Chiara", "Dmitri", "Emeka", "Fatima", "Greta", "Hiro", "Ines", "Jonas",
    "Kwame", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tariq",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe",
)
_LAST = (
    "Achebe", "Bergström", "Castillo", "Dubois", "Eze", "Fischer", "García", "Haddad",
    "Ito", "Jansen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov",
    "Quispe", "Rossi", "Sato", "Tanaka", "Umarov", "Varga", "Wójcik", "Yilmaz", "Zhang",
)
_COUNTRIES = (
    "Brazil", "Canada", "Chile", "Egypt", "France", "Germany", "India", "Italy", "Japan",
    "Kenya", "Mexico", "Nigeria", "Norway", "Poland", "Spain",
)
_GENRES = (
    "Fantasy", "Science Fiction", "Mystery", "History", "Poetry", "Biography", "Romance",
    "Travel", "Philosophy", "Cooking",
)
_ADJECTIVES = (
    "Silent", "Hidden", "Last", "Burning", "Glass", "Northern", "Forgotten", "Quiet",
    "Crimson", "Endless", "Paper", "Winter", "Golden", "Lonely", "Electric",
)
_NOUNS = (
    "River", "Garden", "Library", "Harbor", "Mountain", "Clock", "Lantern", "Orchard",
    "Archive", "Island", "Compass", "Kingdom", "Letter", "Mirror", "Voyage",
)
_TAGS = (
    "award-winner", "classic", "debut", "illustrated", "series", "translated", "signed",
    "large-print", "staff-pick",
)
_PUBLISHERS = ("Harbor House", "Northwind", "Quarto & Sons", "Blue Lantern", "Meridian")
_FORMATS = ("hardcover", "paperback", "ebook", "audiobook")
_CITIES = (
    ("Oslo", "Norway", "0150"), ("Lagos", "Nigeria", None), ("Kyoto", "Japan", "600-8216"),
    ("Lyon", "France", "69002"), ("Porto Alegre", "Brazil", "90010-150"),
    ("Kraków", "Poland", "31-008"), ("Pune", "India", "411001"),
)
_STREETS = ("Elm Street", "Harbour Road", "Station Square", "Mill Lane", "Park Avenue")
_REVIEW_WORDS = (
    "gripping", "slow start", "beautifully written", "could not put it down", "too long",
    "wonderful characters", "surprising ending", "a comfort read", "dense but rewarding",
)
_LANGUAGES = ("en", "de", "fr", "ja", "pt", "es")
_ROOMS = ("Main hall", "Reading room", "Children's corner")


class DemoError(RealmError):
    """The demo realm could not be written (for instance: the path is not a realm)."""


def load_demo_schema() -> tuple[list[dict[str, Any]], int]:
    """The demo's classes in Realm JS's JSON form and its schema version."""
    try:
        spec = json.loads(resources.read_text(DEMO_SCHEMA))
    except FileNotFoundError:
        raise DemoError(
            f"the demo schema studio/resources/{DEMO_SCHEMA} is missing from this "
            "installation; reinstall studio (pip install --force-reinstall studio)"
        ) from None
    return list(spec["schema"]), int(spec.get("schemaVersion", 1))


# -- small values --------------------------------------------------------------------------


def _png(width: int, height: int, rgb: tuple[int, int, int], stripe: int) -> bytes:
    """A tiny valid PNG (solid colour with one light stripe): something to show for data."""
    row_bytes = bytearray()
    for y in range(height):
        row_bytes.append(0)  # filter type "none"
        colour = (250, 250, 240) if y == stripe else rgb
        row_bytes.extend(bytes(colour) * width)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(row_bytes), 9)) + chunk(b"IEND", b""))


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(40, 220), rng.randrange(40, 220), rng.randrange(40, 220))


def _date(rng: random.Random, first_year: int, last_year: int) -> datetime:
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    days = (datetime(last_year, 12, 31, tzinfo=UTC) - start).days
    return start + timedelta(days=rng.randrange(days))


def _isbn(rng: random.Random) -> str:
    digits = [9, 7, 8] + [rng.randrange(10) for _ in range(9)]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    text = "".join(map(str, [*digits, check]))
    return f"{text[:3]}-{text[3]}-{text[4:8]}-{text[8:12]}-{text[12]}"


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    cents = rng.randrange(low, high)
    return Decimal(f"{cents // 100}.{cents % 100:02d}")


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _title(rng: random.Random) -> str:
    pattern = rng.randrange(3)
    if pattern == 0:
        return f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    if pattern == 1:
        return f"{rng.choice(_NOUNS)} of the {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    noun = rng.choice(_NOUNS)
    return f"{'An' if noun[0] in 'AEIOU' else 'A'} {noun} in {rng.choice(_CITIES)[0]}"


def _mixed(rng: random.Random, index: int, authors: list[RealmObject]) -> Any:
    """One of each kind of mixed value in turn, so the demo shows them all."""
    kind = index % 11
    values: tuple[Any, ...] = (
        None,
        rng.randrange(1, 1000),
        rng.choice(_TAGS),
        round(rng.uniform(0, 100), 2),
        rng.random() < 0.5,
        _date(rng, 1990, 2023),
        _money(rng, 100, 10000),
        ObjectId(rng.randbytes(12)),
        uuid.UUID(int=rng.getrandbits(128), version=4),
        rng.randbytes(6),
        rng.choice(authors),
    )
    return values[kind]


# -- the objects ---------------------------------------------------------------------------


def _authors(realm: Realm, rng: random.Random) -> list[RealmObject]:
    authors = []
    for i in range(AUTHORS):
        # A plausible creation time in the first four bytes, as a real ObjectId has.
        seconds = 1_500_000_000 + i * 604_800
        authors.append(realm.create("Author", {
            "_id": ObjectId(seconds.to_bytes(4, "big") + rng.randbytes(8)),
            "name": _name(rng),
            "born": _date(rng, 1900, 2000) if rng.random() < 0.9 else None,
            "country": rng.choice(_COUNTRIES) if rng.random() < 0.85 else None,
            "website": f"https://example.org/authors/{i}" if rng.random() < 0.4 else None,
            "portrait": _png(6, 8, _colour(rng), 2) if rng.random() < 0.3 else None,
        }))
    return authors


def _members(realm: Realm, rng: random.Random) -> list[RealmObject]:
    members = []
    for i in range(MEMBERS):
        name = _name(rng)
        city, country, postcode = rng.choice(_CITIES)
        address = None
        if rng.random() < 0.9:
            address = {"street": f"{rng.randrange(1, 200)} {rng.choice(_STREETS)}",
                       "city": city, "postcode": postcode, "country": country}
        members.append(realm.create("Member", {
            "memberId": uuid.UUID(int=rng.getrandbits(128), version=4),
            "name": name,
            "email": (f"{name.split()[0].lower()}.{i}@example.com"
                      if rng.random() < 0.8 else None),
            "joined": _BASE + timedelta(days=rng.randrange(3000), seconds=rng.randrange(86400)),
            "active": rng.random() < 0.8,
            "balance": _money(rng, -2000, 5000),
            "address": address,
            "favoriteGenres": rng.sample(_GENRES, rng.randrange(0, 4)),
            "readingMinutes": [rng.randrange(0, 120) if rng.random() < 0.8 else None
                               for _ in range(7)],
            "preferences": {
                "language": rng.choice(_LANGUAGES),
                "notifications": rng.choice(("email", "sms", "none")),
            },
            "avatar": _png(8, 8, _colour(rng), rng.randrange(8)) if rng.random() < 0.25 else None,
        }))
    return members


def _books(
    realm: Realm, rng: random.Random, authors: list[RealmObject], members: list[RealmObject]
) -> list[RealmObject]:
    books = []
    isbns: set[str] = set()
    for i in range(BOOKS):
        isbn = _isbn(rng)
        while isbn in isbns:
            isbn = _isbn(rng)
        isbns.add(isbn)
        published = _date(rng, 1950, 2023)
        reviews = [
            {
                "reviewer": rng.choice(members) if rng.random() < 0.85 else None,
                "stars": rng.randrange(1, 6),
                "text": rng.choice(_REVIEW_WORDS).capitalize() + ".",
                "postedAt": _BASE + timedelta(days=rng.randrange(3500),
                                              minutes=rng.randrange(1440)),
            }
            for _ in range(rng.randrange(0, 5))
        ]
        attributes: dict[str, Any] = {}
        if rng.random() < 0.3:
            attributes["series"] = f"The {rng.choice(_NOUNS)} Cycle"
            attributes["volume"] = rng.randrange(1, 8)
        if rng.random() < 0.2:
            attributes["award"] = rng.random() < 0.5
        if rng.random() < 0.2:
            attributes["firstPrinting"] = published
        books.append(realm.create("Book", {
            "isbn": isbn,
            "title": _title(rng),
            "authors": rng.sample(authors, 1 if rng.random() < 0.8 else 2),
            "genre": rng.choice(_GENRES),
            "published": published,
            "pages": rng.randrange(48, 900),
            "price": _money(rng, 499, 4999),
            "rating": round(rng.uniform(1, 5), 2) if rng.random() < 0.85 else None,
            "weightKg": round(rng.uniform(0.1, 2.5), 3) if rng.random() < 0.7 else None,
            "inPrint": rng.random() < 0.7,
            "cover": _png(4, 6, _colour(rng), rng.randrange(6)) if rng.random() < 0.5 else None,
            "tags": rng.sample(_TAGS, rng.randrange(0, 4)),
            "edition": {
                "number": rng.randrange(1, 6),
                "publisher": rng.choice(_PUBLISHERS),
                "year": published.year + rng.randrange(0, 3),
                "format": rng.choice(_FORMATS),
            } if rng.random() < 0.9 else None,
            "reviews": reviews,
            "loansPerMonth": {f"2023-{m:02d}": rng.randrange(0, 9)
                              for m in sorted(rng.sample(range(1, 13), rng.randrange(0, 5)))},
            "extra": _mixed(rng, i, authors),
            "attributes": attributes,
        }))
    # Links between books need every book to exist first.
    for book in books:
        for other in rng.sample(books, rng.randrange(0, 4)):
            if other != book:
                book["related"].add(other)
    return books


def _loans(
    realm: Realm, rng: random.Random, books: list[RealmObject], members: list[RealmObject]
) -> None:
    for i in range(LOANS):
        borrowed = _BASE + timedelta(days=rng.randrange(3500), minutes=rng.randrange(1440))
        returned = None
        if rng.random() < 0.8:
            returned = borrowed + timedelta(days=rng.randrange(1, 40), hours=rng.randrange(24))
        late = returned is not None and returned > borrowed + timedelta(days=21)
        realm.create("Loan", {
            "id": 1000 + i,
            "book": rng.choice(books),
            "member": rng.choice(members) if rng.random() < 0.97 else None,
            "borrowed": borrowed,
            "due": borrowed + timedelta(days=21),
            "returned": returned,
            "fee": _money(rng, 50, 800) if late else None,
            "renewals": rng.randrange(0, 3),
            "channel": rng.choice(("desk", "kiosk", "app", 3, 7, None)),
        })


def _shelves(realm: Realm, rng: random.Random, books: list[RealmObject]) -> None:
    for i in range(SHELVES):
        room = _ROOMS[i % len(_ROOMS)]
        realm.create("Shelf", {
            "label": f"{room.split()[0][0]}{i // len(_ROOMS) + 1}",
            "room": room,
            "position": i // len(_ROOMS) + 1,
            "capacity": rng.choice((20, 30, 40, None)),
            "books": rng.sample(books, rng.randrange(5, 16)),
        })


def populate(realm: Realm, seed: int = DEMO_SEED) -> None:
    """Fill an open realm that has the demo schema, in one write transaction."""
    rng = random.Random(seed)
    with realm.write():
        authors = _authors(realm, rng)
        members = _members(realm, rng)
        books = _books(realm, rng, authors, members)
        for member in members:
            if rng.random() < 0.4:
                picks = rng.sample(books, 2)
                member["wishlist"]["next"] = picks[0]
                member["wishlist"]["someday"] = picks[1]
        _loans(realm, rng, books, members)
        _shelves(realm, rng, books)


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def build_demo_realm(path: str | os.PathLike[str], seed: int = DEMO_SEED) -> dict[str, int]:
    """(Re)write the demo realm at ``path``; returns the object count per class.

    The realm is built under a temporary name and renamed into place, so a failure
    never leaves half a demo behind. An existing file is replaced only if it is a
    studio realm: this never overwrites anything else.
    """
    target = Path(path)
    if target.is_dir():
        raise DemoError(f"{target} is a directory; give the path of the .realm file to write")
    kind = sniff_file(target)
    if kind not in ("missing", "empty"):
        try:
            Realm.open(target, read_only=True).close()
        except FileFormatError as exc:
            raise DemoError(f"refusing to overwrite {target}: {exc}") from None
    schema, version = load_demo_schema()
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for leftover in (temp, *_sidecars(temp)):
        leftover.unlink(missing_ok=True)
    try:
        with Realm.open(temp, schema=schema, schema_version=version) as realm:
            populate(realm, seed)
            counts = {cls.name: len(realm.objects(cls.name)) for cls in realm.schema}
        for stale in _sidecars(target):
            stale.unlink(missing_ok=True)  # the old file's WAL must not be applied to the new
        os.replace(temp, target)
    finally:
        for leftover in (temp, *_sidecars(temp)):
            leftover.unlink(missing_ok=True)
    return counts
