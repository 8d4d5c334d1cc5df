"""Parallel coordinates for 3+ objectives (Inselberg, "The plane with parallel coordinates", 1985; the HParams and
W&B view): one vertical axis per objective, each item a polyline. Every axis is min–max scaled to [0, 1] and flipped
for minimised axes, so "up is better" on all of them; non-dominated items are drawn bold on top."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from workbench.ui.theme import is_dark, plot_colors, series_color

_PALETTE_EVENTS = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)


def line_color(group: int, on_front: bool, dark: bool) -> QColor:
    """A polyline's colour: its run's series colour; dominated items faint. On a dark background the Okabe-Ito
    blues and purples are too dark to read at low alpha, so they are lightened and kept more opaque (issue #13)."""
    color = QColor(series_color(group))
    if dark:
        color = color.lighter(150) if color.lightness() < 140 else color
        color.setAlpha(255 if on_front else 170)
    else:
        color.setAlpha(255 if on_front else 90)
    return color


def normalise(values: np.ndarray, directions: list[str]) -> np.ndarray:
    """Per-column min–max scaling to [0, 1], minimised columns flipped (a constant column maps to 0.5)."""
    v = np.asarray(values, dtype=float)
    out = np.full_like(v, np.nan)
    for m, d in enumerate(directions):
        col = v[:, m]
        lo, hi = np.nanmin(col) if np.isfinite(col).any() else 0.0, np.nanmax(col) if np.isfinite(col).any() else 1.0
        scaled = (col - lo) / (hi - lo) if hi > lo else np.where(np.isnan(col), np.nan, 0.5)
        out[:, m] = 1.0 - scaled if d == "minimize" else scaled
    return out


class ParallelCoordinates(pg.PlotWidget):
    """`set_data(values, axes, directions, front_mask, groups)` redraws the plot."""

    def __init__(self, parent: QWidget | None = None) -> None:
        bg, fg = plot_colors()
        super().__init__(parent, background=bg)
        self.fg = fg
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.getAxis("bottom").setHeight(44)  # room for two-line axis names
        self.setLabel("left", "scaled (up = better)")
        self.lines: list[pg.PlotDataItem] = []
        self._last: tuple | None = None
        self._apply_colors()

    def _apply_colors(self) -> None:
        bg, self.fg = plot_colors()
        self.setBackground(bg)
        for axis in ("left", "bottom"):
            self.getAxis(axis).setTextPen(self.fg)
            self.getAxis(axis).setPen(self.fg)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        """Follow a switch between light and dark (the plot was built under the palette of its day)."""
        super().changeEvent(event)
        if event.type() in _PALETTE_EVENTS and hasattr(self, "_last"):  # (not during construction)
            self._apply_colors()
            if self._last is not None:
                self.set_data(*self._last)

    def set_data(self, values: np.ndarray, axes: list[str], directions: list[str], front_mask: np.ndarray,
                 groups: list[int]) -> None:
        self._last = (values, axes, directions, front_mask, groups)
        self.clear()
        self.lines = []
        dark = is_dark()
        n_axes = len(axes)
        self.getAxis("bottom").setTicks([[(i, a.replace(" · ", "\n")) for i, a in enumerate(axes)]])
        for i in range(n_axes):
            self.addItem(pg.InfiniteLine(pos=i, angle=90, pen=pg.mkPen(self.fg, width=1)))
        if len(values) == 0 or n_axes == 0:
            return
        scaled = normalise(values, directions)
        x = np.arange(n_axes, dtype=float)
        order = np.argsort(front_mask, kind="stable")  # dominated first, the front drawn on top
        for i in order:
            on_front = bool(front_mask[i])
            color = line_color(groups[i], on_front, dark)
            item = self.plot(x, scaled[i], pen=pg.mkPen(color, width=3 if on_front else 1.5),
                             symbol="o" if on_front else None, symbolSize=6, symbolBrush=color, connect="finite")
            self.lines.append(item)
        self.setXRange(-0.2, n_axes - 0.8)
        self.setYRange(-0.05, 1.05)
