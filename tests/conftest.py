"""Test setup shared by the whole suite."""

from __future__ import annotations

import os

# GUI tests render offscreen: no test may need a real screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
