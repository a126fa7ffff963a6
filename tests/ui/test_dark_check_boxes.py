"""Unchecked check boxes show in dark mode (issue 16, defect 11)."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication, QCheckBox

from studio.ui import theme


def _contrast(image: QImage, base: QColor) -> int:
    """The largest difference from ``base`` of any pixel in the image."""
    worst = 0
    for y in range(image.height()):
        for x in range(image.width()):
            pixel = image.pixelColor(x, y)
            worst = max(worst, abs(pixel.red() - base.red()) + abs(pixel.green() - base.green())
                        + abs(pixel.blue() - base.blue()))
    return worst


def test_unchecked_box_is_visible_on_the_dark_palette(qtbot: Any) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.palette()
    try:
        theme.apply("dark")
        box = QCheckBox()
        qtbot.addWidget(box)
        box.resize(box.sizeHint())
        image = box.grab().toImage()
        style = box.style()
        indicator = style.subElementRect(style.SubElement.SE_CheckBoxIndicator,
                                         _option(box), box)
        window = box.palette().color(QPalette.ColorRole.Window)
        # The frame must stand out from the window around it: the base fill barely does.
        assert _contrast(image.copy(indicator), window) > 150
    finally:
        theme.apply("light")
        app.setPalette(before)


def _option(box: QCheckBox) -> Any:
    from PySide6.QtWidgets import QStyleOptionButton

    option = QStyleOptionButton()
    option.initFrom(box)
    return option
