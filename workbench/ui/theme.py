"""Look and feel: Fusion style, light/dark following the system (or the user's choice), a small stylesheet.

The colour scheme comes from Qt (QStyleHints.colorScheme, Qt ≥ 6.5); forcing light or dark uses
QStyleHints.setColorScheme (Qt ≥ 6.8). Plots read the palette so they follow the scheme too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")
SETTINGS_KEY = "theme"


def resources_dir() -> Path:
    """The resources/ folder: next to the package in a source checkout, inside it in an installed build."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "resources", here.parents[2] / "resources"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "resources"


def stylesheet() -> str:
    path = resources_dir() / "styles" / "workbench.qss"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""  # the app works without it; it only tightens spacing


def app_icon() -> QIcon:
    """The window/taskbar icon (resources/icons/workbench.svg; an empty icon if the file is missing)."""
    return QIcon(str(resources_dir() / "icons" / "workbench.svg"))


def apply_theme(app: QApplication, theme: str = "system") -> None:
    """Fusion + the chosen colour scheme + the stylesheet."""
    app.setStyle("Fusion")
    hints = QGuiApplication.styleHints()
    scheme = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}.get(theme, Qt.ColorScheme.Unknown)
    if hasattr(hints, "setColorScheme"):
        hints.setColorScheme(scheme)
    dark = theme == "dark" or (theme == "system" and hints.colorScheme() == Qt.ColorScheme.Dark)
    set_dark(app, dark)
    app.setStyleSheet(stylesheet())


def set_dark(app: QApplication, dark: bool) -> None:
    # Fusion's standard palette is light on some platforms whatever the scheme, so dark is set explicitly.
    app.setPalette(dark_palette() if dark else app.style().standardPalette())


def follow_system_scheme(app: QApplication, current_theme: Callable[[], str]) -> Callable | None:
    """Switch light/dark when the operating system does, while the user's choice is "system" (Qt reports the
    change through QStyleHints.colorSchemeChanged, Qt >= 6.5). Plots built later read the new palette."""
    hints = QGuiApplication.styleHints()
    if not hasattr(hints, "colorSchemeChanged"):
        return None

    def changed(scheme: Qt.ColorScheme) -> None:
        if current_theme() == "system":
            set_dark(app, scheme == Qt.ColorScheme.Dark)

    hints.colorSchemeChanged.connect(changed)
    return changed  # the connected slot (to disconnect it)


def dark_palette() -> QPalette:
    """A dark Fusion palette with the same blue accent as the light one."""
    pal = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#2b2b2e", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1e20", QPalette.ColorRole.AlternateBase: "#27272a",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#353538",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.ToolTipBase: "#353538",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.Highlight: "#2f7fc1",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.Link: "#56B4E9",
        QPalette.ColorRole.PlaceholderText: "#8c8c90", QPalette.ColorRole.Mid: "#505055",
        QPalette.ColorRole.Midlight: "#404044", QPalette.ColorRole.Dark: "#1a1a1c",
        QPalette.ColorRole.Light: "#4a4a4f", QPalette.ColorRole.BrightText: "#ff6b6b",
    }
    for role, color in colors.items():
        pal.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#77777c"))
    return pal


def is_dark() -> bool:
    """Whether the current palette is dark (window background darker than its text)."""
    pal = QGuiApplication.palette()
    return pal.color(QPalette.ColorRole.Window).lightness() < pal.color(QPalette.ColorRole.WindowText).lightness()


def plot_colors() -> tuple[QColor, QColor]:
    """(background, foreground) for pyqtgraph plots under the current palette."""
    pal = QGuiApplication.palette()
    return pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)


# Colour-blind-safe qualitative palette (Okabe & Ito, "Color Universal Design", 2008) for runs and objectives.
SERIES_COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999")


def series_color(i: int) -> QColor:
    return QColor(SERIES_COLORS[i % len(SERIES_COLORS)])
