"""A stand-in for `workbench worker infer` for the Models panel tests, speaking the real protocol.

- load -> status + result{request: "load", data: {model, parameters}}; with FAKE_INFER_UNAVAILABLE=1 it answers
  ended{reason: failed, error: ...} instead, as a build without an inference backend does.
- generate -> tokens "reply", "to", <prompt words>, "T=<temperature>", "seed=<seed>" then result{text}; a prompt
  starting with "slow" streams 500 tokens 10 ms apart and stops early on a `cancel` for its request; with a
  `guide` it answers like a PRM step search (generate_guided).
"""

from __future__ import annotations

import os
import select
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from workbench.core.protocol import decode, encode  # noqa: E402


def emit(type_: str, **data) -> None:
    sys.stdout.write(encode(type_, "inference", **data))
    sys.stdout.flush()


def cancelled(request: str) -> bool:
    """True when a cancel for `request` is waiting on stdin (checked between tokens, as a real worker would)."""
    while select.select([sys.stdin], [], [], 0)[0]:
        line = sys.stdin.readline()
        if not line:
            return True
        msg = decode(line)
        if msg.type == "cancel" and msg.data.get("request") == request:
            return True
    return False


def generate_guided(data: dict) -> None:
    """A PRM step search as the real worker reports it: one token per kept step with {step, score}, then the
    steps with their candidates (the scores are made up: 0.9, then 0.2)."""
    request = data["request"]
    kept = [("Step 1: 3 * 4 = 12.", 0.9, ["Step 1: 3 * 4 = 11.", "Step 1: 3 * 4 = 12."]),
            ("The answer is 12.", 0.2, ["The answer is 12.", "The answer is 13."])]
    steps = []
    for i, (text, score, cands) in enumerate(kept):
        emit("token", request=request, text=text + "\n", step=i, score=score)
        steps.append({"text": text, "score": score, "chosen": cands.index(text),
                      "candidates": [{"text": c, "score": score if c == text else 0.05} for c in cands]})
    emit("result", request=request, data={"text": "\n".join(t for t, _, _ in kept), "mode": "prm_steps",
                                          "steps": steps, "guide": data["guide"], "tokens": 40,
                                          "response_tokens": 20, "finish": "eos"})


def generate(data: dict) -> None:
    request, prompt = data["request"], data["prompt"]
    if data.get("guide"):
        generate_guided(data)
        return
    if prompt.startswith("slow"):
        words = [f"w{i}" for i in range(500)]
    else:
        words = ["reply", "to", *prompt.split(), f"T={data.get('temperature')}", f"seed={data.get('seed')}"]
    sent = []
    for word in words:
        if prompt.startswith("slow"):
            time.sleep(0.01)
            if cancelled(request):
                break
        sent.append(word)
        emit("token", request=request, text=word + " ")
    emit("result", request=request, data={"text": " ".join(sent), "tokens": len(sent)})


def main() -> int:
    for raw in iter(sys.stdin.readline, ""):
        if not raw.strip():
            continue
        msg = decode(raw)
        if msg.type == "load":
            if os.environ.get("FAKE_INFER_UNAVAILABLE"):
                emit("ended", reason="failed", error="no inference backend in this build (torch is not installed)")
                return 1
            emit("status", state="loading", message="loading the fake model", progress=1.0)
            emit("result", request="load", data={"model": msg.data.get("model"), "parameters": 1234})
        elif msg.type == "generate":
            generate(msg.data)
        elif msg.type == "quit":
            break
    emit("ended", reason="finished", error="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
