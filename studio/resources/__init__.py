"""Files the package reads at run time: the demo schema and the application icon.

They live inside the package (not in the repository's top level) and are read through
:mod:`importlib.resources`, so the same code works from a source checkout, from an
installed wheel and from a PyInstaller bundle (see docs/packaging.md).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
"""The PNG sizes rendered from ``icons/studio.svg`` by packaging/render_icons.py."""


def resource(name: str) -> Traversable:
    """A file of this package, e.g. ``resource("demo_schema.json")``."""
    return files(__name__).joinpath(name)


def read_text(name: str) -> str:
    """The UTF-8 text of a resource; FileNotFoundError when the package lacks it."""
    return resource(name).read_text(encoding="utf-8")


def icon_svg() -> Traversable:
    return resource("icons").joinpath("studio.svg")


def icon_png(size: int) -> Traversable:
    if size not in ICON_SIZES:
        raise ValueError(f"no {size}px icon; the sizes are {', '.join(map(str, ICON_SIZES))}")
    return resource("icons").joinpath(f"studio-{size}.png")
