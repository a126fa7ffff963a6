"""``python -m studio.server --data DIR [--host H] [--port P] ...``"""

from __future__ import annotations

import sys

from studio.server.app import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="python -m studio.server"))
