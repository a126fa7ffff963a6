"""The application icon (studio/resources/icons), set as every window's icon.

The PNGs are read as bytes through importlib.resources rather than by file name, so the
icon loads the same from a checkout, a wheel (even a zipped one) and a PyInstaller bundle.
"""

from __future__ import annotations

from PySide6.QtGui import QIcon, QPixmap

from studio import resources


def application_icon() -> QIcon:
    """Every rendered size of the Studio icon; an empty QIcon if the files are missing."""
    icon = QIcon()
    for size in resources.ICON_SIZES:
        pixmap = QPixmap()
        try:
            data = resources.icon_png(size).read_bytes()
        except FileNotFoundError:
            continue  # a broken install shows Qt's default icon rather than failing to start
        if pixmap.loadFromData(data, "PNG"):
            icon.addPixmap(pixmap)
    return icon
