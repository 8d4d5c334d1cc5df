"""The step mode's key map (issue #17): rate the focused step good / neutral / bad (PRM800K +1 / 0 / -1), mark the
first error, move between steps and responses, undo. Remappable and saved like the pair keys (label_keymap.py)."""

from __future__ import annotations

from workbench.ui.widgets.label_keymap import KeyMap

STEP_ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "good": ("This step is good (+1)", ("G", "=", "+")),
    "neutral": ("This step is neutral: fine but no progress (0)", ("N", "0")),
    "bad": ("This step is bad (-1)", ("B", "-")),
    "first_error": ("First error here: this step bad, the unrated steps before it good", ("E",)),
    "no_error": ("No error: every unrated step good (neutral ones stay)", ("A",)),
    "clear": ("Clear this step's rating", ("Delete",)),
    "step_up": ("Focus the previous step", ("Up", "K")),
    "step_down": ("Focus the next step", ("Down", "J")),
    "next_response": ("Next response", ("PgDown", "Return")),
    "previous_response": ("Previous response", ("PgUp",)),
    "undo": ("Undo the last key's labels", ("Backspace", "Ctrl+Z")),
    "redo": ("Redo", ("Ctrl+Shift+Z",)),
    "help": ("Show the key map", ("?",)),
}


class StepKeyMap(KeyMap):
    """The step screen's key map, kept under step_keys/ in QSettings."""

    actions = STEP_ACTIONS
    prefix = "step_keys/"
