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


def test_unchecked_bool_cell_is_visible_on_the_dark_palette(people_path: Any, open_browser: Any,
                                                            qtbot: Any) -> None:
    # The bool columns of the table draw their own indicator (an item view check).
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.palette()
    try:
        theme.apply("dark")
        browser = open_browser(people_path)
        browser.show_class("Person")
        browser.resize(1200, 760)
        table = browser.table
        index = browser.model.index(1, browser.model.column_named("alive"))
        assert browser.realm.object_for_primary_key("Person", 1)["alive"] is False
        table.scrollTo(index)
        qtbot.wait(50)
        cell = table.visualRect(index)
        image = table.viewport().grab().toImage()
        # The indicator sits at the cell's left, before the word "false".
        indicator = image.copy(cell.left(), cell.top(), 22, cell.height())
        background = indicator.pixelColor(1, 1)
        assert _contrast(indicator, background) > 150
    finally:
        theme.apply("light")
        app.setPalette(before)
