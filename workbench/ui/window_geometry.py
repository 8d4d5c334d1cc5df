"""The main window's size and place: remembered between sessions (QSettings "window/geometry", Qt's own encoding)
and, the first time, 1280 x 820 or less, so the window fits the screen it opens on (a 1366 x 768 laptop included:
without a window manager to shrink it, a taller window had its status bar below the screen's edge)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSettings, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

GEOMETRY_KEY = "window/geometry"
DEFAULT = QSize(1280, 820)
MARGIN = QSize(40, 60)  # room for the window's frame and title bar, and a taskbar


def first_size(available: QRect) -> QSize:
    """The default size, shrunk to the screen's available area less MARGIN (never below 640 x 480)."""
    width = max(640, min(DEFAULT.width(), available.width() - MARGIN.width()))
    height = max(480, min(DEFAULT.height(), available.height() - MARGIN.height()))
    return QSize(width, height)


def restore(window: QWidget, settings: QSettings) -> None:
    """The geometry the window had when it was last closed, else the first size centred on its screen."""
    saved = settings.value(GEOMETRY_KEY)
    if saved is not None and window.restoreGeometry(saved):
        return
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        window.resize(DEFAULT)
        return
    available = screen.availableGeometry()
    size = first_size(available)
    window.resize(size)
    window.move(available.x() + (available.width() - size.width()) // 2,
                available.y() + (available.height() - size.height()) // 2)


def save(window: QWidget, settings: QSettings) -> None:
    settings.setValue(GEOMETRY_KEY, window.saveGeometry())
