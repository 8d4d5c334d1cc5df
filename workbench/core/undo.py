"""A bounded undo/redo history of user actions, kept as data (the label panel's Ctrl+Z / Ctrl+Shift+Z).

Actions are plain values (e.g. a frozen dataclass "label 12 set on pair 7"), not callables: the stack only decides
*which* action to revert or re-apply, and the caller applies it — typically on the DB thread, asynchronously, as
Anki does with its undoable operations. This keeps the stack pure, testable and usable from async code:

    action = stack.undo()          # the action to revert, or None
    if action is not None:
        await db.run(retract_label, action.label_id)

If applying fails, call `restore_undo()` (or `restore_redo()`) to put the action back where it was, so the
history never claims a change that did not happen. Pushing a new action clears the redo history (the usual
linear-undo model, as in Qt's QUndoStack); beyond `capacity` the oldest action is dropped.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

A = TypeVar("A")

DEFAULT_CAPACITY = 30


class UndoStack(Generic[A]):
    """Linear undo/redo history holding at most `capacity` undoable actions."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"undo capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._done: deque[A] = deque(maxlen=capacity)  # oldest at the left, the next undo at the right
        self._undone: list[A] = []  # the next redo at the end

    def push(self, action: A) -> None:
        """Record an action the user just did: it becomes the next undo; the redo history is discarded."""
        self._done.append(action)
        self._undone.clear()

    def undo(self) -> A | None:
        """Take the most recent action to revert (it moves to the redo history), or None when there is none."""
        if not self._done:
            return None
        action = self._done.pop()
        self._undone.append(action)
        return action

    def redo(self) -> A | None:
        """Take the most recently undone action to re-apply (it moves back to the undo history), or None."""
        if not self._undone:
            return None
        action = self._undone.pop()
        self._done.append(action)
        return action

    def restore_undo(self) -> None:
        """Revert the last `undo()` after the caller failed to apply it: the action becomes undoable again."""
        if self._undone:
            self._done.append(self._undone.pop())

    def restore_redo(self) -> None:
        """Revert the last `redo()` after the caller failed to apply it: the action becomes redoable again."""
        if self._done:
            self._undone.append(self._done.pop())

    def clear(self) -> None:
        """Forget all history (e.g. when another project is opened)."""
        self._done.clear()
        self._undone.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    def peek_undo(self) -> A | None:
        """The action `undo()` would return, without moving it (for an "Undo <what>" menu text)."""
        return self._done[-1] if self._done else None

    def peek_redo(self) -> A | None:
        """The action `redo()` would return, without moving it."""
        return self._undone[-1] if self._undone else None

    def __len__(self) -> int:
        """Number of undoable actions."""
        return len(self._done)
