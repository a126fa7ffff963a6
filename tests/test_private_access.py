"""No code outside studio.core reaches into a core object's private state.

The core's own parts share an open file's state through ``studio.core.store``; the rest
of studio (ui, sync, server, realmfile, cli, ...) uses the public API. These checks read
the source (AST), so they hold for code paths no test runs.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import studio

STUDIO = Path(studio.__file__).resolve().parent
CORE = STUDIO / "core"
ROOT = STUDIO.parent

# A RealmObject's attribute namespace belongs to its schema's properties, so its identity
# is read through underscored names, as Realm JS's ``_objectKey()``: they are its public
# identity (docs/query-language.md), not private state.
OBJECT_IDENTITY = {"_key", "_class_name"}


def _modules(root: Path) -> Iterator[Path]:
    yield from sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _outside_core() -> Iterator[Path]:
    for path in _modules(STUDIO):
        if CORE not in path.parents:
            yield path


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def core_private_names() -> set[str]:
    """Private attributes and methods the core's classes define (``self._x = ...``,
    ``def _x``, slots, class-level annotations), but for the objects' identity."""
    return private_names_of(_modules(CORE)) - OBJECT_IDENTITY


def private_names_of(paths: Iterator[Path]) -> set[str]:
    names: set[str] = set()
    for path in paths:
        for cls in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in ast.walk(cls):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _private(
                    node.name
                ):
                    names.add(node.name)
                elif (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "self"
                    and isinstance(node.ctx, ast.Store)
                    and _private(node.attr)
                ):
                    names.add(node.attr)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    if _private(node.target.id):
                        names.add(node.target.id)
                elif (
                    isinstance(node, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets)
                    and isinstance(node.value, ast.Tuple | ast.List)
                ):
                    names.update(
                        element.value
                        for element in node.value.elts
                        if isinstance(element, ast.Constant)
                        and isinstance(element.value, str)
                        and _private(element.value)
                    )
    return names


def _package(path: Path) -> str:
    """The part of studio a file belongs to: ``ui``, ``realmfile``, ... (``""`` for the
    modules at the top, cli.py and the like)."""
    parts = path.relative_to(STUDIO).parts
    return parts[0] if len(parts) > 1 else ""


def _studio_packages_imported(source: str) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        )
        for name in names:
            parts = name.split(".")
            if len(parts) > 1 and parts[0] == "studio" and (STUDIO / parts[1]).is_dir():
                out.add(parts[1])
    return out


def names_to_check(path: Path, source: str, core: set[str], by_package: dict[str, set[str]]
                   ) -> set[str]:
    """The core's private names, less those that the file's own part of studio or another
    part it imports also defines privately: by name alone those are ambiguous (a
    realmfile reader's ``_table`` is not the core's business)."""
    ambiguous: set[str] = set()
    for package in {_package(path), *_studio_packages_imported(source)} - {"core"}:
        ambiguous |= by_package.get(package, set())
    return core - ambiguous


def private_reaches(source: str, private: set[str]) -> list[tuple[int, str]]:
    """``x._name`` where ``x`` is not ``self``/``cls``/``super()`` and ``_name`` is a
    private name of a core class; and any use of ``store_of`` (the core's own door)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in private:
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
                continue
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Name) and node.id == "store_of":
            found.append((node.lineno, "store_of"))
        elif isinstance(node, ast.ImportFrom) and any(a.name == "store_of" for a in node.names):
            found.append((node.lineno, "import store_of"))
    return found


def test_the_core_defines_the_private_names_the_check_looks_for() -> None:
    names = core_private_names()
    # The Realm's own state, and what its objects keep.
    assert {"_store", "_load_row", "_info", "_realm", "_row"} <= names
    assert not names & OBJECT_IDENTITY


def test_nothing_outside_the_core_touches_private_attributes_of_core_objects() -> None:
    core = core_private_names()
    files = list(_outside_core())
    by_package: dict[str, set[str]] = {}
    for path in files:
        by_package.setdefault(_package(path), set()).update(private_names_of(iter([path])))
    reaches: list[str] = []
    for path in files:
        source = path.read_text(encoding="utf-8")
        private = names_to_check(path, source, core, by_package)
        reaches += [
            f"{path.relative_to(ROOT)}:{line}: {text}"
            for line, text in private_reaches(source, private)
        ]
    assert reaches == [], "use the public API of studio.core instead:\n" + "\n".join(reaches)


def test_the_check_catches_a_private_reach() -> None:
    source = (
        "from studio.core.realm import store_of\n"
        "def f(self, realm, results):\n"
        "    realm._store.conn.execute('PRAGMA busy_timeout = 1')\n"
        "    self._plan = results._plan\n"
        "    super()._plan\n"
        "    store_of(realm)\n"
        "    return realm.path, results[0]._key, realm.__class__\n"
    )
    assert sorted(private_reaches(source, {"_store", "_plan"})) == [
        (1, "import store_of"),
        (3, "realm._store"),
        (4, "results._plan"),
        (6, "store_of"),
    ]


def _type_checking_imports(path: Path) -> tuple[set[str], set[str]]:
    """Modules a file imports under ``if TYPE_CHECKING:``, and the ones it imports anywhere
    else (at module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for inner in node.body:
                for sub in ast.walk(inner):
                    guarded.add(id(sub))
    typing_only: set[str] = set()
    runtime: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            (typing_only if id(node) in guarded else runtime).add(node.module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                (typing_only if id(node) in guarded else runtime).add(alias.name)
    return typing_only, runtime


def test_the_ignored_imports_of_the_core_layers_are_annotations_only() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c for c in contracts if c["type"] == "layers" and c.get("containers") == [
        "studio.core"
    ]]
    assert layers["ignore_imports"]
    for expression in layers["ignore_imports"]:
        importer, imported = (part.strip() for part in expression.split("->"))
        path = ROOT / (importer.replace(".", "/") + ".py")
        typing_only, runtime = _type_checking_imports(path)
        assert imported in typing_only, f"{expression}: not an import under TYPE_CHECKING"
        assert imported not in runtime, f"{expression}: also imported at run time"
