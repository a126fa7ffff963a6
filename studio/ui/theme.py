"""Light and dark palettes: follow the system's colour scheme, or the user's toggle.

The Fusion style is used everywhere so that both palettes look the same on every
platform (and offscreen, where screenshots are made).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleOption,
    QWidget,
)

MODES = ("system", "light", "dark")


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def resolve(mode: str) -> str:
    """"light" or "dark" for a mode (``system`` asks the platform)."""
    if mode == "dark" or (mode == "system" and system_is_dark()):
        return "dark"
    return "light"


def dark_palette() -> QPalette:
    palette = QPalette()
    base = QColor(30, 32, 36)
    window = QColor(40, 43, 48)
    text = QColor(224, 226, 230)
    disabled = QColor(128, 132, 140)
    highlight = QColor(61, 126, 219)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor(36, 39, 44),
        QPalette.ColorRole.ToolTipBase: QColor(50, 54, 60),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: window,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(255, 85, 85),
        QPalette.ColorRole.Link: QColor(110, 168, 254),
        QPalette.ColorRole.LinkVisited: QColor(170, 140, 250),
        QPalette.ColorRole.Highlight: highlight,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.PlaceholderText: QColor(140, 145, 152),
        QPalette.ColorRole.Mid: QColor(60, 64, 70),
        QPalette.ColorRole.Dark: QColor(22, 24, 27),
        QPalette.ColorRole.Light: QColor(70, 74, 80),
    }
    for role, colour in roles.items():
        palette.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette


def light_palette() -> QPalette:
    palette = QStyleFactory.create("Fusion").standardPalette()
    palette.setColor(QPalette.ColorRole.Link, QColor(21, 101, 192))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor(246, 248, 250))
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor(128, 128, 128))
    return palette


INDICATORS = (QStyle.PrimitiveElement.PE_IndicatorCheckBox,
              QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck)


class StudioStyle(QProxyStyle):
    """Fusion, with check box frames that show on a dark palette too (Fusion draws them
    a shade darker than the window: on a dark base an unchecked box is invisible)."""

    def __init__(self) -> None:
        super().__init__(QStyleFactory.create("Fusion"))

    def drawPrimitive(self, element: QStyle.PrimitiveElement, option: QStyleOption,
                      painter: QPainter, widget: QWidget | None = None) -> None:
        super().drawPrimitive(element, option, painter, widget)
        palette: QPalette = option.palette
        if element not in INDICATORS or palette.color(QPalette.ColorRole.Base).lightness() >= 128:
            return
        area: QRect = option.rect
        side = min(area.width(), area.height()) - 1
        rect = QRect(0, 0, side, side)
        rect.moveCenter(area.center())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.PlaceholderText), 1))
        painter.drawRect(rect)
        painter.restore()


def apply(mode: str, app: QApplication | None = None) -> str:
    """Apply a mode ("system", "light" or "dark"); returns the palette in use."""
    # instance() is typed QCoreApplication; the Studio only ever makes a QApplication.
    app = app or QApplication.instance()  # type: ignore[assignment]
    resolved = resolve(mode)
    if app is None:
        return resolved
    if not isinstance(app.style(), StudioStyle):
        app.setStyle(StudioStyle())
    app.setPalette(dark_palette() if resolved == "dark" else light_palette())
    app.setProperty("studioTheme", resolved)
    return resolved


def current() -> str:
    app = QApplication.instance()
    value = app.property("studioTheme") if app is not None else None
    return str(value) if value else "light"
