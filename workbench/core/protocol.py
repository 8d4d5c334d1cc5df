"""The worker <-> GUI protocol: JSON Lines (DESIGN.md §2).

Child -> parent: one JSON object per line on stdout, and appended to `run_dir/events.jsonl`.
Parent -> child: one JSON object per line on stdin (`{"v": 1, "type": "stop"}`); EOF on stdin also means stop.

Every message carries `v` (protocol version), `type` and `run` (the run id, a string). Event types and their
fields (beyond v/type/run/time):

- status     {"state": "loading"|"tokenizing"|"reference"|"training"|"evaluating"|"saving", "message": str,
              "progress": float|None (0..1 of the current phase), "step": int, "total_steps": int,
              optional "eta_s": float|None (seconds left in the phase, where the worker can estimate it)}
- metric     {"step": int, "values": {name: float}}   names follow TRL (loss, rewards/chosen, ...), plus
              tokens_per_s, step_time_s, peak_memory_mb, eta_s, epoch
- log        {"level": "debug"|"info"|"warning"|"error", "message": str}
- checkpoint {"step": int, "path": str}  (a PEFT adapter folder, relative to the run dir)
- eval       {"step": int, "values": {name: float}, "checkpoint": str|None, "weights": {obj: w}|None}
- ended      {"reason": "finished"|"stopped"|"failed"|"crashed", "error": str, "step": int}
- token      {"text": str, "request": str}  (inference worker: one streamed piece of a generation)
- result     {"request": str, "data": {...}}  (inference worker: the answer to a request)

Commands (parent -> child): stop, and for the inference worker: load, generate, set_weights, cancel, quit.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

PROTOCOL_VERSION = 1

EVENT_TYPES = frozenset({"status", "metric", "log", "checkpoint", "eval", "ended", "token", "result"})
COMMAND_TYPES = frozenset({"stop", "load", "generate", "set_weights", "cancel", "quit", "evaluate"})
END_REASONS = frozenset({"finished", "stopped", "failed", "crashed"})


class ProtocolError(ValueError):
    """A line that is not a valid protocol message."""


@dataclass(frozen=True)
class Message:
    type: str
    run: str
    data: dict[str, Any] = field(default_factory=dict)
    time: float = 0.0
    v: int = PROTOCOL_VERSION


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: send them as strings so the receiver can still tell what happened."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def encode(type_: str, run: str, **data: Any) -> str:
    """One message as a single JSON line (with the trailing newline)."""
    if type_ not in EVENT_TYPES and type_ not in COMMAND_TYPES:
        raise ValueError(f"unknown message type {type_!r}")
    obj = {"v": PROTOCOL_VERSION, "type": type_, "run": str(run), "time": round(time.time(), 3)}
    obj.update(_clean(data))
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def decode(line: str | bytes) -> Message:
    """Parse one line; raise ProtocolError for anything that is not a message of a version we understand."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    line = line.strip()
    if not line:
        raise ProtocolError("empty line")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("not a JSON object")
    v = obj.pop("v", None)
    if v != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {v!r}, expected {PROTOCOL_VERSION}")
    type_ = obj.pop("type", None)
    if type_ not in EVENT_TYPES and type_ not in COMMAND_TYPES:
        raise ProtocolError(f"unknown message type {type_!r}")
    run = obj.pop("run", "")
    t = obj.pop("time", 0.0)
    if type_ == "metric" and not isinstance(obj.get("values"), dict):
        raise ProtocolError("metric message without a 'values' object")
    if type_ == "ended" and obj.get("reason") not in END_REASONS:
        raise ProtocolError(f"ended message with unknown reason {obj.get('reason')!r}")
    return Message(type=type_, run=str(run), data=obj, time=float(t or 0.0), v=v)


def metric_values(msg: Message) -> dict[str, float]:
    """The numeric values of a metric/eval message; strings such as 'nan' become float('nan')."""
    out: dict[str, float] = {}
    for k, v in msg.data.get("values", {}).items():
        try:
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            continue
    return out
