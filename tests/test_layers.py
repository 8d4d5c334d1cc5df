"""The layer rules of DESIGN.md §1 hold: import-linter's contracts in pyproject.toml all pass."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is part of the test extra"
    proc = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" not in proc.stdout.lower() or " 0 broken" in proc.stdout.lower()


def test_cli_starts_without_qt_or_torch() -> None:
    code = (
        "import sys, workbench.__main__ as m; m.main(['--version']);"
        "bad=[k for k in ('torch','PySide6','sqlalchemy') if k in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_services_are_widget_free() -> None:
    """import-linter cannot forbid submodules of an external package, so this checks PySide6.QtWidgets/QtGui."""
    import ast

    offenders = []
    for path in sorted((ROOT / "workbench" / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(("PySide6.QtWidgets", "PySide6.QtGui"))]
    assert offenders == []
