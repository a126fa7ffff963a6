"""Entry point of the bundled desktop app (packaging/studio.spec): the ``studio`` command.

One extra duty in a frozen build: ``studio demo`` starts its server as
``sys.executable -c CODE ARGS`` (studio/ui/demo.py), and in a bundle ``sys.executable`` is
this program, not a Python interpreter. So ``-c`` runs CODE the way ``python -c`` would.
And that server runs realm work in "spawn" worker processes, which start this program
again with multiprocessing's own arguments: freeze_support() turns those into workers.
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()  # a worker process never returns from here
    if getattr(sys, "frozen", False) and len(sys.argv) > 2 and sys.argv[1] == "-c":
        code = sys.argv[2]
        sys.argv = ["-c", *sys.argv[3:]]
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})
        return 0
    from studio.cli import main as studio_main

    return studio_main()


if __name__ == "__main__":
    raise SystemExit(main())
