"""ui layer (see DESIGN.md §1). Importing it applies the PySide6 reference-count workaround (see
workbench/services/qt_refcount_fix.py) before any widget code runs."""

import workbench.services  # noqa: F401  (applies qt_refcount_fix)
