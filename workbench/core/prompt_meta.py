"""What a scorer knows about a prompt besides its text (core.scorers.Meta): today the prompt's known reference
answer, which the built-in `answer_correct` scorer checks generations against (issue #17).

The store writes `run_dir/prompt_meta.json` when it prepares a run (store/run_prep.py): the prompt's text as the
workers see it (`prompt_text`) -> its metadata. The eval worker wraps each scorer with `with_prompt_meta`, so a
scorer called as scorer(prompt, response) during evaluation gets the prompt's metadata without any caller passing
it. One file, one key rule, for every evaluation path (checkpoint, mixtures, sweeps, rounds' runs).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.core.errors import InputError
from workbench.core.scorers import Meta, Scorer

PROMPT_META_FILE = "prompt_meta.json"
PromptMeta = dict[str, dict[str, Any]]


def prompt_text(prompt: Any) -> str:
    """A prompt as one string: the text itself, or a chat conversation's contents joined by newlines."""
    return prompt if isinstance(prompt, str) else "\n".join(str(m.get("content", "")) for m in prompt)


def write_prompt_meta(path: str | Path, table: Mapping[str, Mapping[str, Any]]) -> None:
    Path(path).write_text(json.dumps({k: dict(v) for k, v in table.items()}, ensure_ascii=False, sort_keys=True),
                          encoding="utf-8")


def read_prompt_meta(path: str | Path) -> PromptMeta:
    """The table in `path`; {} when the file does not exist (a run whose prompts carry no metadata)."""
    p = Path(path)
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"the run's prompt metadata cannot be read ({exc}); prepare the run again", path=str(p))
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InputError("the run's prompt metadata is not a table of prompt -> fields; prepare the run again",
                         path=str(p))
    return data


def with_prompt_meta(scorer: Scorer, table: Mapping[str, Mapping[str, Any]]) -> Scorer:
    """`scorer`, looking up the prompt's metadata in `table` (fields the caller passes win)."""
    if not table:
        return scorer
    inner = scorer.fn

    def fn(prompt: str, response: str, meta: Meta) -> Any:
        return inner(prompt, response, {**table.get(prompt, {}), **meta})

    return dataclasses.replace(scorer, fn=fn)
