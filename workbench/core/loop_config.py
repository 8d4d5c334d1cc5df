"""A loop file: the settings of on-policy rounds, a [run] table (RunConfig) and a [round] table (RoundSettings), as
TOML (written by hand, README "Rounds") or JSON (written by the Rounds panel's Loop settings dialog). One reader
for `workbench round --config` and the dialog; one writer."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from workbench.core.errors import InputError
from workbench.core.rounds import RoundSettings
from workbench.core.run_config import RunConfig


def load_loop_config(path: str | Path) -> tuple[RunConfig, RoundSettings]:
    """(run settings, round settings) of a loop file; InputError (with the path) when it cannot be read."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
        return RunConfig.from_dict(data.get("run", {})), RoundSettings.from_dict(data.get("round", {}))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"cannot read the loop settings: {exc}", path=str(p)) from None


def write_loop_config(path: str | Path, run: RunConfig, settings: RoundSettings) -> None:
    """A JSON loop file that load_loop_config reads back to the same settings."""
    data = {"run": run.to_dict(), "round": settings.to_dict()}
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def loop_file(project_path: str | Path) -> Path:
    """Where the Rounds panel keeps a project's loop settings: `<project>.loop.json` next to it."""
    return Path(project_path).with_suffix(".loop.json")
