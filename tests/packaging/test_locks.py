"""packaging/locks/*.txt: every package of pyproject.toml (and PyInstaller) pinned, hashed and within its bounds.

A dependency added to pyproject.toml without refreshing the locks (packaging/lock.sh) would be missing from the
frozen app; these tests name it instead.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
LOCKS = sorted((REPO / "packaging" / "locks").glob("*.txt"))


def read_lock(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """name -> (pinned version, sha256 hashes) of a pip-compile/uv lock file."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line):
            current = canonicalize_name(m.group(1))
            pins[current] = (Version(m.group(2)), [])
        elif current and (h := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[current][1].append(h.group(1))
    return pins


def required() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["package"]]


def test_the_cpu_locks_of_every_system_are_committed() -> None:
    assert [p.name for p in LOCKS if p.name.startswith("cpu-")] == [
        "cpu-linux-x86_64.txt", "cpu-macos-arm64.txt", "cpu-windows-x86_64.txt"]


@pytest.mark.parametrize("lock", LOCKS, ids=[p.stem for p in LOCKS])
def test_every_requirement_is_pinned_within_its_bounds_with_hashes(lock: Path) -> None:
    pins = read_lock(lock)
    assert len(pins) > 40
    missing = [str(r) for r in required() if canonicalize_name(r.name) not in pins]
    assert missing == [], f"{lock.name} lacks {missing}: run packaging/lock.sh"
    for r in required():
        version = pins[canonicalize_name(r.name)][0]
        assert r.specifier.contains(version, prereleases=True), f"{lock.name}: {r.name} {version} is not {r.specifier}"
    assert [name for name, (_, hashes) in pins.items() if not hashes] == []
    assert "kernels" in pins  # transformers 5 pulls it in: the spec collects its data files (packaging/README.md)


@pytest.mark.parametrize("lock", LOCKS, ids=[p.stem for p in LOCKS])
def test_torch_is_the_build_of_the_locks_edition(lock: Path) -> None:
    edition, system = lock.stem.split("-", 1)
    version, hashes = read_lock(lock)["torch"]
    wanted = {"cpu-linux-x86_64": "cpu", "cu128-linux-x86_64": "cu128", "cu128-windows-x86_64": "cu128"}
    assert version.local == wanted.get(f"{edition}-{system}")  # Windows and macOS: PyPI's own (CPU) build
    if version.local == "cpu":
        assert len(hashes) == 1  # exactly the one Linux wheel of PyTorch's CPU index
