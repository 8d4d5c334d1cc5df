"""Prompts, responses and the pairs of responses annotators compare.

Texts are deduplicated by a sha1 of their canonical content (`content_hash`): the same prompt imported twice is one
row, and a response is unique per prompt. Chat-message content keeps its messages and gets a readable text
rendering for lists and search.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workbench.core.entities import Messages, Pair, Prompt, Response
from workbench.core.errors import ProjectError
from workbench.store import convert
from workbench.store.schema import LabelRow, PairRow, PromptRow, ResponseRow

SHUFFLE_BITS = 31  # pair.shuffle_key: a random key fixed at insert, the queue's "random" order (see queue.py)


@dataclass(frozen=True)
class PairView:
    """Everything the labelling screen shows for one pair."""

    pair: Pair
    prompt: Prompt
    response_a: Response
    response_b: Response


def render_messages(messages: Messages) -> str:
    """A readable plain-text form of a conversation (what lists and exports to plain text show)."""
    if len(messages) == 1:
        return str(messages[0].get("content", ""))
    return "\n\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in messages)


_quote = json.encoder.encode_basestring  # the (C) function json.dumps(ensure_ascii=False) writes strings with


def messages_json(messages: Messages, *, canonical: bool = False) -> str:
    """`json.dumps(messages, ensure_ascii=False)` (canonical: also sort_keys=True, separators=(",", ":")),
    character for character.

    Why not json.dumps: given options, it builds a JSONEncoder per call, which made hashing and storing
    chat-message datasets most of a 100,000-pair import. Lists of string-to-string dicts (the usual shape) are
    joined here from json's own string quoting, {"role", "content"} messages without even a loop over their
    keys; anything else goes through json.dumps.
    """
    item_sep, key_sep = (",", ":") if canonical else (", ", ": ")
    parts = []
    for message in messages:
        if type(message) is not dict:
            return _dumps(messages, canonical)
        role, content = message.get("role"), message.get("content")
        if len(message) == 2 and type(role) is str and type(content) is str:
            if canonical:
                parts.append('{"content":' + _quote(content) + ',"role":' + _quote(role) + "}")
            elif next(iter(message)) == "role":
                parts.append('{"role": ' + _quote(role) + ', "content": ' + _quote(content) + "}")
            else:
                parts.append('{"content": ' + _quote(content) + ', "role": ' + _quote(role) + "}")
            continue
        fields = []
        for key, value in (sorted(message.items()) if canonical else message.items()):
            if type(key) is not str or type(value) is not str:
                return _dumps(messages, canonical)
            fields.append(_quote(key) + key_sep + _quote(value))
        parts.append("{" + item_sep.join(fields) + "}")
    return "[" + item_sep.join(parts) + "]"


def _dumps(value: object, canonical: bool) -> str:
    if canonical:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return json.dumps(value, ensure_ascii=False)


def content_fields(value: str | Messages) -> tuple[str, Messages | None, str]:
    """(text, messages or None, sha1) of a prompt/response given as a string or as chat messages.

    The sha1 is of "s:" + text, or of "m:" + the canonical JSON of the messages (sorted keys, no spaces): the
    `text_hash` stored in every project, so this function's output must never change."""
    if isinstance(value, str):
        return value, None, hashlib.sha1(("s:" + value).encode("utf-8")).hexdigest()
    canonical = messages_json(value, canonical=True)
    return render_messages(value), value, hashlib.sha1(("m:" + canonical).encode("utf-8")).hexdigest()


def new_shuffle_key(rng: random.Random | None = None) -> int:
    return (rng or random).getrandbits(SHUFFLE_BITS)


def add_prompt(s: Session, text: str | Messages, messages: Messages | None = None, source: str = "") -> Prompt:
    """The prompt with this content (created when new). `messages`, when given, is the prompt's conversation."""
    body, msgs, digest = content_fields(messages if messages is not None else text)
    row = s.scalar(select(PromptRow).where(PromptRow.text_hash == digest))
    if row is None:
        row = PromptRow(text=text if isinstance(text, str) and text else body,
                        messages=msgs, source=source, text_hash=digest)
        s.add(row)
        s.flush()
    return convert.prompt(row)


def add_response(s: Session, prompt_id: int, text: str | Messages, *, model: str = "",
                 generation: dict[str, Any] | None = None, messages: Messages | None = None) -> Response:
    """The response with this content to this prompt (created when new)."""
    body, msgs, digest = content_fields(messages if messages is not None else text)
    row = s.scalar(select(ResponseRow).where(ResponseRow.prompt_id == prompt_id, ResponseRow.text_hash == digest))
    if row is None:
        if s.get(PromptRow, prompt_id) is None:
            raise ProjectError(f"prompt {prompt_id} does not exist: reload the project")
        row = ResponseRow(prompt_id=prompt_id, text=text if isinstance(text, str) and text else body,
                          messages=msgs, model=model, generation=dict(generation or {}), text_hash=digest)
        s.add(row)
        s.flush()
    return convert.response(row)


def add_pair(s: Session, prompt_id: int, a_id: int, b_id: int, source: str = "",
             extra: dict[str, Any] | None = None) -> Pair:
    """The pair (prompt, a, b) (created when new); both responses must answer that prompt."""
    if a_id == b_id:
        raise ProjectError("a pair needs two different responses")
    for rid in (a_id, b_id):
        resp = s.get(ResponseRow, rid)
        if resp is None or resp.prompt_id != prompt_id:
            raise ProjectError(f"response {rid} does not answer prompt {prompt_id}: pick responses of that prompt")
    row = s.scalar(select(PairRow).where(PairRow.prompt_id == prompt_id, PairRow.response_a_id == a_id,
                                         PairRow.response_b_id == b_id))
    if row is None:
        row = PairRow(prompt_id=prompt_id, response_a_id=a_id, response_b_id=b_id, source=source,
                      extra=dict(extra or {}), shuffle_key=new_shuffle_key())
        s.add(row)
        s.flush()
    return convert.pair(row)


def pair_view(s: Session, pair_id: int) -> PairView:
    row = s.get(PairRow, pair_id)
    if row is None:
        raise ProjectError(f"pair {pair_id} does not exist: reload the project")
    return PairView(pair=convert.pair(row), prompt=convert.prompt(s.get_one(PromptRow, row.prompt_id)),
                    response_a=convert.response(s.get_one(ResponseRow, row.response_a_id)),
                    response_b=convert.response(s.get_one(ResponseRow, row.response_b_id)))


def count_pairs(s: Session) -> int:
    return int(s.scalar(select(func.count()).select_from(PairRow)) or 0)


def refresh_labelled_by(s: Session, pair_ids: Iterable[int]) -> None:
    """Recount `pair.labelled_by` (distinct annotators with an active label) for these pairs.

    The labelling queue filters on this column through an index instead of counting labels per pair, which is what
    keeps `next_pair` fast with a million labels; every write of labels calls this for the pairs it touched.
    """
    ids = sorted(set(pair_ids))
    counted = (select(func.count(func.distinct(LabelRow.annotator_id)))
               .where(LabelRow.pair_id == PairRow.id, LabelRow.superseded_at.is_(None)).scalar_subquery())
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        s.execute(update(PairRow).where(PairRow.id.in_(chunk)).values(labelled_by=counted)
                  .execution_options(synchronize_session=False))
