"""The Studio's windows (PySide6 + qasync): the only Qt code of the project.

``studio.ui.app.run`` is the entry point the ``studio`` command calls.
"""

from __future__ import annotations

from studio.ui._pyside_fix import protect_singletons

protect_singletons()  # before any Qt call: see studio/ui/_pyside_fix.py
