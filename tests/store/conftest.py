"""Store test fixtures: a fresh project file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.store.db import Project, create_project


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    proj = create_project(tmp_path / "p.sqlite")
    yield proj
    proj.close()
