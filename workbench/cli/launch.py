"""How to start this same program again as a child process (workers, the self-test's GUI check).

In a source or pip install that is `python -m workbench`; in a frozen (PyInstaller) build `sys.executable` is the
app itself, which dispatches `worker ...` before Qt loads, so `-m workbench` must not be added.
"""

from __future__ import annotations

import sys


def self_command() -> list[str]:
    """The argv prefix that runs `workbench` again: the executable itself when frozen, else `python -m workbench`."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "workbench"]
