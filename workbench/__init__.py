"""Alignment Workbench: interactive multi-objective preference alignment on your own workstation."""

from __future__ import annotations

__version__ = "0.1.0"
APP_NAME = "Alignment Workbench"
