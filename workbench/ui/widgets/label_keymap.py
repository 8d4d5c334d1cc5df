"""The labelling key map: which key does what, remappable and kept in QSettings.

Labelling is the one place people repeat an action thousands of times (DESIGN.md §6), so every action has a key
and every key can be changed (Edit keys… in the Label panel). A key is stored as QKeySequence portable text
("1", "Left", "Shift+2", "Ctrl+Shift+Z"). Matching is layout-tolerant: Shift+1 arrives as "!" on a US keyboard,
so shifted symbols on the digit row are folded back to their digit; "?" matches with or without Shift.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence

# action -> (description, default keys)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "prefer_left": ("Prefer the left response (A)", ("1", "Left")),
    "prefer_right": ("Prefer the right response (B)", ("2", "Right")),
    "tie": ("Tie: both equally good", ("T",)),
    "skip": ("Skip this row (no opinion)", ("S",)),
    "strength_1": ("Strength: slight", ("Shift+1",)),
    "strength_2": ("Strength: clear", ("Shift+2",)),
    "strength_3": ("Strength: strong", ("Shift+3",)),
    "note": ("Write a note for this row", ("N",)),
    "undo": ("Undo the last label", ("Backspace", "Ctrl+Z")),
    "redo": ("Redo", ("Ctrl+Shift+Z",)),
    "help": ("Show the key map", ("?",)),
    "confirm_suggestion": ("Confirm the reward model's suggested label (as your own)", ("Y",)),
}
SETTINGS_PREFIX = "label_keys/"

# Shifted digit-row symbols of common layouts (US, UK, DE, FR-less): folded back to "Shift+<digit>".
_SHIFTED_DIGITS = {"!": "1", "@": "2", '"': "2", "#": "3", "§": "3", "$": "4", "%": "5"}


def event_text(event: QKeyEvent) -> str:
    """The portable key text of a key press ("Shift+1", "Ctrl+Z", "?"); "" for a bare modifier."""
    key = event.key()
    if key in (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta, Qt.Key.Key_unknown):
        return ""
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    text = QKeySequence(event.keyCombination().key()).toString(QKeySequence.SequenceFormat.PortableText)
    if text in _SHIFTED_DIGITS:
        return f"Shift+{_SHIFTED_DIGITS[text]}"
    if text == "?":
        mods &= ~Qt.KeyboardModifier.ShiftModifier
    seq = QKeySequence(event.keyCombination().key() | mods) if mods else QKeySequence(key)
    return seq.toString(QKeySequence.SequenceFormat.PortableText)


class KeyMap:
    """action -> keys, with a reverse index for matching key presses; persisted in QSettings. A subclass with its
    own `actions` and `prefix` is another screen's key map (the step mode's: label_steps_keymap.py)."""

    actions: dict[str, tuple[str, tuple[str, ...]]] = ACTIONS
    prefix = SETTINGS_PREFIX

    def __init__(self, bindings: dict[str, tuple[str, ...]] | None = None) -> None:
        self.bindings: dict[str, tuple[str, ...]] = {a: keys for a, (_, keys) in self.actions.items()}
        if bindings:
            self.bindings.update({a: tuple(k) for a, k in bindings.items() if a in self.actions})
        self._index = self._build_index()

    def _build_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for action, keys in self.bindings.items():
            for key in keys:
                norm = QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)
                if norm:
                    index[norm] = action
        return index

    def action_for(self, event: QKeyEvent) -> str | None:
        return self._index.get(event_text(event))

    def action_for_text(self, text: str) -> str | None:
        return self._index.get(QKeySequence(text).toString(QKeySequence.SequenceFormat.PortableText))

    def keys(self, action: str) -> tuple[str, ...]:
        return self.bindings.get(action, ())

    def conflicts(self) -> list[tuple[str, str, str]]:
        """(key, action, other action) for every key bound to two actions (the dialog refuses to save those)."""
        seen: dict[str, str] = {}
        out = []
        for action, keys in self.bindings.items():
            for key in keys:
                if key in seen and seen[key] != action:
                    out.append((key, seen[key], action))
                seen.setdefault(key, action)
        return out

    def help_rows(self) -> list[tuple[str, str]]:
        return [(" / ".join(self.bindings[a]) or "(none)", desc) for a, (desc, _) in self.actions.items()]

    # --- persistence ----------------------------------------------------------------------------------------
    @classmethod
    def load(cls, settings: QSettings) -> KeyMap:
        stored: dict[str, tuple[str, ...]] = {}
        for action in cls.actions:
            value = settings.value(cls.prefix + action)
            if value is None:
                continue
            if isinstance(value, str):  # INI files return a one-element list as a bare string
                value = [value] if value else []
            stored[action] = tuple(str(v) for v in value)
        return cls(stored)

    def save(self, settings: QSettings) -> None:
        for action, keys in self.bindings.items():
            settings.setValue(self.prefix + action, list(keys))
        settings.sync()
