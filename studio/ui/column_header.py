"""The object table's column header: each column's name, under it its type (``int?``,
``Dog[]``) with the primary key and indexed properties marked, and optionally a row
of filter boxes (one line edit per column, ``filter_<name>``, see
:mod:`studio.ui.quick_filter`).

The boxes are children of the header, placed in a margin under its sections and moved
with them (resizing, scrolling). Whoever changes the columns calls :meth:`sync_filters`
(the quick filter does on every view shown): connecting Python slots to the model's
column signals crashed the interpreter at exit, when Qt destroys the model during
Python's finalization.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QFont, QPainter, QPalette
from PySide6.QtWidgets import QAbstractScrollArea, QHeaderView, QLineEdit, QWidget

from studio.core.schema import Property
from studio.ui import formatting as fmt
from studio.ui.cells import PropertyRole

FILTER_PADDING = 4

Filterable = Callable[[Property | None], str]  # "" when a column can be filtered, else why


def type_text(prop: Property | None) -> str:
    """The second line of a column's header: its type, and whether it is the primary key
    or indexed."""
    if prop is None:
        return "key"
    if prop.is_backlink:
        text = f"← {prop.object_type}.{prop.origin_property}"
    else:
        text = fmt.type_label(prop)
    if prop.is_primary_key:
        return f"{text} · PK"
    if prop.indexed:
        return f"{text} · indexed"
    return text


class ColumnHeader(QHeaderView):
    """A horizontal header with a type line and a filter row (see the module docstring)."""

    filterEdited = Signal(int, str)  # column, text (as typed)
    filterSubmitted = Signal()  # Enter in a box
    filtersRebuilt = Signal()  # new boxes for new columns

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setDefaultAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.filterable: Filterable = lambda _prop: ""
        self._filters: list[QLineEdit] = []
        self._filter_names: list[str] = []
        self._filters_shown = False
        self._small = QFont(self.font())
        self._small.setPointSizeF(max(self.font().pointSizeF() * 0.85, 6.0))
        self.sectionResized.connect(lambda *_: self.place_filters())
        self.sectionMoved.connect(lambda *_: self.place_filters())
        if isinstance(parent, QAbstractScrollArea):
            parent.horizontalScrollBar().valueChanged.connect(lambda _v: self.place_filters())

    # -- the type line -----------------------------------------------------------------------

    def section_property(self, section: int) -> Property | None:
        model = self.model()
        if model is None:
            return None
        prop = model.headerData(section, Qt.Orientation.Horizontal, PropertyRole)
        return prop if isinstance(prop, Property) else None

    def section_type_text(self, section: int) -> str:
        model = self.model()
        if model is None or not 0 <= section < model.columnCount():
            return ""
        return type_text(self.section_property(section))

    def sectionSizeFromContents(self, logicalIndex: int) -> QSize:
        size = super().sectionSizeFromContents(logicalIndex)
        metrics = self.fontMetrics()
        width = metrics.horizontalAdvance(self.section_type_text(logicalIndex)) + 12
        return QSize(max(size.width(), width), size.height() + metrics.height())

    def paintSection(self, painter: QPainter, rect: QRect, logicalIndex: int) -> None:
        super().paintSection(painter, rect, logicalIndex)
        text = self.section_type_text(logicalIndex)
        if not text or not rect.isValid():
            return
        painter.save()
        painter.setFont(self._small)
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(rect.adjusted(4, 0, -4, -3),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                         painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                                          max(rect.width() - 8, 0)))
        painter.restore()

    # -- the filter row ------------------------------------------------------------------------

    @property
    def filters(self) -> list[QLineEdit]:
        return list(self._filters)

    def filter_box(self, column: int) -> QLineEdit:
        return self._filters[column]

    def filters_shown(self) -> bool:
        return self._filters_shown

    def set_filters_shown(self, shown: bool) -> None:
        if shown == self._filters_shown:
            return
        self._filters_shown = shown
        for box in self._filters:
            box.setVisible(shown)
        self.updateGeometries()
        self.updateGeometry()

    def _column_names(self) -> list[str]:
        model = self.model()
        if model is None:
            return []
        return [str(model.headerData(c, Qt.Orientation.Horizontal)) for c in
                range(model.columnCount(QModelIndex()))]

    def sync_filters(self) -> None:
        """One box per column; the boxes (and what they hold) stay while the columns are
        the same (a query or a sort of the same class), new ones come with new columns."""
        names = self._column_names()
        if names == self._filter_names and len(self._filters) == len(names):
            return
        for box in self._filters:
            box.deleteLater()
        self._filters = []
        self._filter_names = names
        for column, name in enumerate(names):
            box = QLineEdit(self)
            box.setObjectName(f"filter_{name}")
            box.setClearButtonEnabled(True)
            why_not = self.filterable(self.section_property(column))
            box.setEnabled(not why_not)
            box.setPlaceholderText("filter" if not why_not else "")
            box.setToolTip(why_not or "Filter this column: text (contains), or =, !=, >, >=, "
                           "<, <= then a value; null; the query bar shows the query")
            box.textEdited.connect(lambda text, c=column: self.filterEdited.emit(c, text))
            box.returnPressed.connect(self.filterSubmitted)
            box.setVisible(self._filters_shown)
            self._filters.append(box)
        self.updateGeometries()
        self.updateGeometry()
        self.filtersRebuilt.emit()

    def filter_height(self) -> int:
        if not self._filters_shown or not self._filters:
            return 0
        return self._filters[0].sizeHint().height() + FILTER_PADDING

    def sizeHint(self) -> QSize:
        size = super().sizeHint()
        size.setHeight(size.height() + self.filter_height())
        return size

    def updateGeometries(self) -> None:
        self.setViewportMargins(0, 0, 0, self.filter_height())
        super().updateGeometries()
        self.place_filters()

    def place_filters(self) -> None:
        if not self._filters_shown:
            return
        height = self.filter_height()
        top = self.height() - height + FILTER_PADDING // 2
        for column, box in enumerate(self._filters):
            x = self.sectionViewportPosition(column)
            box.setGeometry(x + 1, top, max(self.sectionSize(column) - 2, 0),
                            height - FILTER_PADDING)
