"""services layer (see DESIGN.md §1).

Every module that uses Qt lives in services/, ui/ or app.py and imports this package first, so the PySide6 6.12
reference-count workaround (qt_refcount_fix) is in place before any Qt call.
"""

from workbench.services import qt_refcount_fix as _qt_refcount_fix

_qt_refcount_fix.apply()
