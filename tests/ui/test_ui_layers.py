"""The GUI does not reach into the CLI layer (issue #13 bug 8: the Evaluate dialog imported the weight grid from
workbench.cli); shared pure rules live in workbench.core."""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "workbench" / "ui"


def test_ui_never_imports_the_cli_layer():
    offenders = []
    for path in sorted(UI.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            offenders += [f"{path.name}: {n}" for n in names if n == "workbench.cli" or n.startswith("workbench.cli.")]
    assert offenders == []


def test_the_weight_grid_is_the_cores():
    from workbench.cli.sweep_grid import weight_grid as cli_grid
    from workbench.core.weight_grid import weight_grid

    assert cli_grid is weight_grid
    grid = weight_grid(["a", "b", "c"], 3)
    assert len(grid) == 6 and grid[0] == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert all(abs(sum(w.values()) - 1.0) < 1e-12 for w in grid)
