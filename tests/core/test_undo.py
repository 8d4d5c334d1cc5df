"""Undo/redo history: order, redo clearing, capacity, failure restore, and a model-based check."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.undo import DEFAULT_CAPACITY, UndoStack


@dataclass(frozen=True)
class SetLabel:
    pair_id: int
    choice: str


def test_undo_redo_walk_back_and_forth_in_order() -> None:
    stack: UndoStack[SetLabel] = UndoStack()
    assert not stack.can_undo and not stack.can_redo
    assert stack.undo() is None and stack.redo() is None
    actions = [SetLabel(i, "a") for i in range(3)]
    for action in actions:
        stack.push(action)
    assert stack.peek_undo() == actions[2]
    assert [stack.undo(), stack.undo()] == [actions[2], actions[1]]
    assert stack.can_undo and stack.can_redo and len(stack) == 1
    assert stack.peek_redo() == actions[1]
    assert [stack.redo(), stack.redo(), stack.redo()] == [actions[1], actions[2], None]
    assert not stack.can_redo and len(stack) == 3


def test_push_clears_redo_history() -> None:
    stack: UndoStack[str] = UndoStack()
    stack.push("label 1")
    stack.push("label 2")
    assert stack.undo() == "label 2"
    stack.push("label 3")
    assert not stack.can_redo and stack.redo() is None
    assert [stack.undo(), stack.undo(), stack.undo()] == ["label 3", "label 1", None]


def test_capacity_drops_oldest() -> None:
    stack: UndoStack[int] = UndoStack()
    assert stack.capacity == DEFAULT_CAPACITY == 30
    for i in range(45):
        stack.push(i)
    assert len(stack) == 30
    undone = [stack.undo() for _ in range(31)]
    assert undone == list(range(44, 14, -1)) + [None]
    with pytest.raises(ValueError):
        UndoStack(0)


def test_restore_after_failed_apply() -> None:
    stack: UndoStack[str] = UndoStack()
    stack.push("x")
    stack.push("y")
    assert stack.undo() == "y"
    stack.restore_undo()  # the DB write failed: "y" is still done
    assert stack.peek_undo() == "y" and not stack.can_redo
    assert stack.undo() == "y"
    assert stack.redo() == "y"
    stack.restore_redo()  # re-applying failed: "y" stays undone
    assert stack.peek_redo() == "y" and stack.peek_undo() == "x"


def test_clear_forgets_everything() -> None:
    stack: UndoStack[int] = UndoStack(capacity=3)
    stack.push(1)
    stack.push(2)
    stack.undo()
    stack.clear()
    assert not stack.can_undo and not stack.can_redo and len(stack) == 0


ops = st.lists(st.one_of(st.tuples(st.just("push"), st.integers(0, 99)), st.just(("undo",)), st.just(("redo",))),
               max_size=60)


@settings(max_examples=150, deadline=None)
@given(capacity=st.integers(1, 6), program=ops)
def test_matches_list_model(capacity: int, program: list[tuple]) -> None:
    """Against a reference: a list of states and a cursor, truncated on push and trimmed to capacity."""
    stack: UndoStack[int] = UndoStack(capacity)
    history: list[int] = []
    cursor = 0  # history[:cursor] is done, history[cursor:] is undone
    for op in program:
        if op[0] == "push":
            history = history[:cursor] + [op[1]]
            history = history[-capacity:]
            cursor = len(history)
            stack.push(op[1])
        elif op[0] == "undo":
            expected = history[cursor - 1] if cursor else None
            cursor = max(0, cursor - 1)
            assert stack.undo() == expected
        else:
            expected = history[cursor] if cursor < len(history) else None
            cursor = min(len(history), cursor + 1)
            assert stack.redo() == expected
        assert stack.can_undo == (cursor > 0) and stack.can_redo == (cursor < len(history))
        assert len(stack) == cursor
