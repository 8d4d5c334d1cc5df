"""Entry script of the frozen build: the same `main` as `python -m workbench`.

PyInstaller freezes this file as the program's `__main__`. `workbench.__main__.main` dispatches `worker ...` and
`--self-test` before anything imports Qt, so the GUI executable doubles as the training/inference worker
(DESIGN.md §2: the frozen app re-executes itself with `worker train --run-dir D`).
"""

from __future__ import annotations

import sys

from workbench.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
