"""packaging/make_icons.py: the .ico and .icns files it writes parse back into the PNGs that went in."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def make_icons():
    # packaging/ is not a Python package (the name would shadow PyPI's `packaging`): load the script by path.
    spec = importlib.util.spec_from_file_location("make_icons", PACKAGING / "make_icons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_MAGIC
    return struct.unpack(">II", png[16:24])  # IHDR width, height


def test_the_svg_renders_at_every_size_with_transparency(make_icons) -> None:
    pngs = make_icons.render_pngs(make_icons.SVG, {16, 256})
    assert {size: png_size(png) for size, png in pngs.items()} == {16: (16, 16), 256: (256, 256)}
    assert pngs[256][25] == 6  # IHDR colour type 6 = RGBA: the corners stay transparent


def test_ico_directory_points_at_each_png(make_icons) -> None:
    pngs = {16: PNG_MAGIC + b"a" * 10, 256: PNG_MAGIC + b"bb" * 10}
    data = make_icons.ico_bytes(pngs)
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind, count) == (0, 1, 2)
    entries = [struct.unpack("<BBBBHHII", data[6 + 16 * i: 22 + 16 * i]) for i in range(count)]
    assert [(e[0], e[1], e[5]) for e in entries] == [(16, 16, 32), (0, 0, 32)]  # 0 means 256 px
    for (*_, length, offset), size in zip(entries, (16, 256)):
        assert data[offset:offset + length] == pngs[size]
    assert entries[1][7] + entries[1][6] == len(data)
    with pytest.raises(ValueError):
        make_icons.ico_bytes({512: PNG_MAGIC})


def test_icns_blocks_cover_every_type_and_add_up(make_icons) -> None:
    sizes = set(make_icons.ICNS_TYPES.values())
    pngs = {size: PNG_MAGIC + bytes([size % 251]) * (size // 16) for size in sizes}
    data = make_icons.icns_bytes(pngs)
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    pos, seen = 8, {}
    while pos < len(data):
        kind, length = data[pos:pos + 4].decode(), struct.unpack(">I", data[pos + 4:pos + 8])[0]
        seen[kind] = data[pos + 8:pos + length]
        pos += length
    assert pos == len(data)
    assert seen == {kind: pngs[size] for kind, size in make_icons.ICNS_TYPES.items()}
