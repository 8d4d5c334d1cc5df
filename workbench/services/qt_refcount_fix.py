"""Work around a reference-count bug of PySide6 6.12 (abi3 wheel) on Python < 3.12.

Measured here (PySide6/shiboken6 6.12.0, CPython 3.11.7): every call of a void C++ method (`label.setText(...)`,
`app.processEvents()`, ...) returns Py_None *without* a new reference, and `Signal.emit` does the same with Py_True.
From Python 3.12 these singletons are immortal (PEP 683), so the missing Py_INCREF is harmless there; on 3.11 each
call takes one reference from None/True, and after some ten thousand calls the interpreter aborts with
"Fatal Python error: none_dealloc: deallocating None" (a GUI streaming metrics reaches that in seconds).

The fix makes the three singletons effectively immortal, as 3.12 does: their reference counts get 2**40 added, so
no realistic number of leaked references can bring them to zero. It touches nothing else and does nothing on 3.12+.
tests/ui/test_qt_refcount_fix.py shows the leak and that the process survives it. The durable fix is Python >= 3.12
(or a PySide6 release that increments the references itself).
"""

from __future__ import annotations

import ctypes
import sys

_PIN = 1 << 40
_applied = False


def apply() -> bool:
    """Pin None, True and False (once per process); returns whether anything was done."""
    global _applied
    if _applied or sys.version_info >= (3, 12):
        return False
    for obj in (None, True, False):
        # ob_refcnt is the first field (a Py_ssize_t) of every object in a release build of CPython.
        ctypes.c_ssize_t.from_address(id(obj)).value += _PIN
    _applied = True
    return True
