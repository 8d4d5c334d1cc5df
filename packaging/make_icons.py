"""Render resources/icons/workbench.svg into the icon files the installers need: PNGs, .ico and .icns.

Why here and not checked in: one source (the SVG) for every size, and no image tools to install on the build
machines — Qt's SVG renderer (PySide6.QtSvg, already a dependency) draws the PNGs, and the two container formats
are simple enough to write directly:
- .ico (Windows): an ICONDIR header and one 16-byte entry per image; entries may hold PNG data (Windows Vista+).
- .icns (macOS): "icns" + total length, then (type, length, PNG data) blocks; ic07..ic10/icp4..icp6 hold PNGs.
Used by build_windows.ps1 / build_macos.sh / build_linux.sh before PyInstaller runs:

    python packaging/make_icons.py build/icons
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "workbench.svg"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# icns block type -> pixel size (Apple's "icns" format; the @2x types reuse the larger renders).
ICNS_TYPES = {"icp4": 16, "icp5": 32, "icp6": 64, "ic07": 128, "ic08": 256, "ic09": 512, "ic10": 1024,
              "ic11": 32, "ic12": 64, "ic13": 256, "ic14": 512}


def render_pngs(svg: Path, sizes: set[int]) -> dict[int, bytes]:
    """PNG bytes of the SVG drawn at each size (transparent background)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication

    # A QApplication, not a QGuiApplication: in a process that later builds widgets (the test suite), a
    # QGuiApplication left behind makes the first QWidget abort the interpreter.
    _app = QApplication.instance() or QApplication(["make_icons", "-platform", "offscreen"])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: {svg} is not a valid SVG")
    out: dict[int, bytes] = {}
    for size in sorted(sizes):
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(0)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        out[size] = bytes(data.data())
    return out


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A .ico holding each PNG (sizes up to 256; a width/height byte of 0 means 256)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        if size > 256:
            raise ValueError(f".ico images are at most 256 px, not {size}")
        png = pngs[size]
        dim = 0 if size == 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset + len(blobs))
        blobs += png
    return header + entries + blobs


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A .icns with one PNG block per ICNS_TYPES entry."""
    blocks = b"".join(kind.encode("ascii") + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
                      for kind, size in ICNS_TYPES.items())
    return b"icns" + struct.pack(">I", 8 + len(blocks)) + blocks


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "build" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    pngs = render_pngs(SVG, set(ICO_SIZES) | set(ICNS_TYPES.values()))
    for size, png in pngs.items():
        (out / f"workbench-{size}.png").write_bytes(png)
    (out / "workbench.ico").write_bytes(ico_bytes({s: pngs[s] for s in ICO_SIZES}))
    (out / "workbench.icns").write_bytes(icns_bytes(pngs))
    print(f"icons written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
