"""The installed package's version, as ``studio --version`` and the About dialog show it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from studio import __version__

DISTRIBUTION = "studio"


def package_version() -> str:
    """The version in the installed distribution's metadata (what pip installed).

    A source tree put on ``sys.path`` without being installed has no metadata; it falls
    back to ``studio.__version__``, which tests/test_packaging.py keeps equal to
    pyproject.toml's version.
    """
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return __version__
