"""Small builders shared by the store tests."""

from __future__ import annotations

from sqlalchemy.orm import Session

from workbench.store.pairs import add_pair, add_prompt, add_response


def make_pairs(s: Session, n: int, source: str = "t") -> list[int]:
    """n pairs, each with its own prompt and two responses; returns their ids in creation order."""
    ids = []
    for i in range(n):
        p = add_prompt(s, f"prompt {i}", source=source)
        a = add_response(s, p.id, f"answer A{i}")
        b = add_response(s, p.id, f"answer B{i}")
        ids.append(add_pair(s, p.id, a.id, b.id, source=source).id)
    return ids
