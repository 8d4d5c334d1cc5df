"""HH-RLHF transcripts: the prompt ends at the last shared "\\n\\nAssistant:", responses are the remainders."""

from __future__ import annotations

from pathlib import Path

import pytest

from .formats_testing import input_error, write_rows
from workbench.core.entities import PreferenceRecord
from workbench.core.errors import InputError
from workbench.formats import hh_rlhf

DIALOGUE = "\n\nHuman: Hi\n\nAssistant: Hello! How can I help?\n\nHuman: Tell me a joke.\n\nAssistant:"


def test_split_at_last_shared_assistant_turn(tmp_path: Path) -> None:
    row = {"chosen": DIALOGUE + " Why did the chicken cross the road?",
           "rejected": DIALOGUE + " No.", "id": 17}
    (rec,) = hh_rlhf.read(write_rows(tmp_path / "hh.jsonl", [row]))
    assert rec == PreferenceRecord(prompt=DIALOGUE, chosen=" Why did the chicken cross the road?", rejected=" No.",
                                   extra={"id": 17}, line=1)


def test_shared_reply_start_stays_in_the_responses() -> None:
    # both replies begin "Sure, " - the prompt still ends at the marker, not inside the reply
    assert hh_rlhf.split_transcripts(DIALOGUE + " Sure, one.", DIALOGUE + " Sure, two.") == (
        DIALOGUE, " Sure, one.", " Sure, two.")
    # the last turn differs earlier: the prompt is cut at the last marker inside the common prefix
    first = "\n\nHuman: a\n\nAssistant: b"
    assert hh_rlhf.split_transcripts(first + "\n\nHuman: c\n\nAssistant: d", first + "\n\nHuman: e") == (
        "\n\nHuman: a\n\nAssistant:", " b\n\nHuman: c\n\nAssistant: d", " b\n\nHuman: e")


def test_round_trip_writes_the_original_transcripts(tmp_path: Path) -> None:
    rows = [{"chosen": DIALOGUE + " Knock knock.", "rejected": DIALOGUE + " I can't."},
            {"chosen": "\n\nHuman: 2+2?\n\nAssistant: 4", "rejected": "\n\nHuman: 2+2?\n\nAssistant: 5", "n": [1]}]
    source = write_rows(tmp_path / "hh.jsonl", rows)
    records = hh_rlhf.read(source)
    hh_rlhf.write(records, tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_text() == source.read_text()
    assert hh_rlhf.read(tmp_path / "out.jsonl") == records


@pytest.mark.parametrize(("row", "message"), [
    ({"chosen": "\n\nHuman: a\n\nAssistant: b"}, "the field 'rejected' is missing"),
    ({"chosen": "Human: hi there", "rejected": "Human: hi you"}, "do not share a dialogue ending in"),
    ({"chosen": DIALOGUE + " x", "rejected": DIALOGUE + " x"}, "'chosen' and 'rejected' are the same"),
    ({"chosen": DIALOGUE, "rejected": DIALOGUE + " x"}, "'chosen' has no assistant reply"),
    ({"chosen": DIALOGUE + " x", "rejected": ""}, "'rejected' is empty"),
])
def test_bad_rows_name_their_line(tmp_path: Path, row: dict, message: str) -> None:
    ok = {"chosen": DIALOGUE + " a", "rejected": DIALOGUE + " b"}
    err = input_error(hh_rlhf.read, write_rows(tmp_path / "bad.jsonl", [ok, row]))
    assert err.line == 2 and message in str(err)


def test_chat_records_cannot_be_written_as_transcripts(tmp_path: Path) -> None:
    chat = PreferenceRecord(prompt=[{"role": "user", "content": "hi"}], chosen=[{"role": "assistant", "content": "a"}],
                            rejected=[{"role": "assistant", "content": "b"}])
    with pytest.raises(InputError, match="export as trl or kto"):
        hh_rlhf.write([chat], tmp_path / "x.jsonl")
