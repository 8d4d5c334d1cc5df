"""Content hashing and JSON of chat messages: the fast path must equal json.dumps exactly, since the sha1 of the
canonical JSON is the `text_hash` already stored in every project (a change would break deduplication)."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from workbench.store.pairs import content_fields, messages_json

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
MESSAGE = st.one_of(
    st.fixed_dictionaries({"role": TEXT, "content": TEXT}),
    st.fixed_dictionaries({"content": TEXT, "role": TEXT}),  # key order of the source file
    st.dictionaries(TEXT, TEXT, max_size=4),
    st.dictionaries(TEXT, st.one_of(TEXT, st.integers(), st.none(), st.lists(TEXT, max_size=2)), max_size=3),
)


@given(st.lists(MESSAGE, max_size=4))
def test_messages_json_is_json_dumps_character_for_character(messages: list) -> None:
    assert messages_json(messages) == json.dumps(messages, ensure_ascii=False)
    assert messages_json(messages, canonical=True) == json.dumps(messages, ensure_ascii=False, sort_keys=True,
                                                                 separators=(",", ":"))


def test_content_hash_is_the_stored_one() -> None:
    """Digests of projects written by earlier versions (sha1 of 's:' + text / 'm:' + canonical JSON)."""
    assert content_fields("hello") == ("hello", None, "85bb4ed4758af8dc2316bf94c91a9bf152daecea")
    msgs = [{"role": "user", "content": "héllo \"you\"\n"}, {"role": "assistant", "content": "hi"}]
    text, kept, digest = content_fields(msgs)
    assert (text, kept) == ('user: héllo "you"\n\n\nassistant: hi', msgs)
    canonical = '[{"content":"héllo \\"you\\"\\n","role":"user"},{"content":"hi","role":"assistant"}]'
    assert digest == hashlib.sha1(("m:" + canonical).encode("utf-8")).hexdigest()


SCALAR = st.one_of(TEXT, st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none())


@given(st.dictionaries(TEXT, st.one_of(SCALAR, st.lists(SCALAR, max_size=2)), max_size=4))
def test_pair_extra_json_is_json_dumps_character_for_character(extra: dict) -> None:
    from workbench.store.imports import _json

    assert _json(extra) == json.dumps(extra, ensure_ascii=False)
