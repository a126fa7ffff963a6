"""``python -m studio.ui [PATH...] [--class C] [--query Q] [--screenshot OUT.png]``."""

from __future__ import annotations

import sys

from studio.ui.app import main

sys.exit(main())
