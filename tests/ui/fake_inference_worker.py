"""A stand-in for `workbench worker infer` speaking the real protocol: answers load with two objectives, remembers
set_weights, and "generates" by streaming the weights it was given and the prompt back, token by token."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from workbench.core.protocol import decode, encode  # noqa: E402


def main() -> int:
    weights: dict[str, float] = {}
    for raw in sys.stdin:
        if not raw.strip():
            continue
        msg = decode(raw)
        if msg.type == "load":
            data = {"objectives": ["helpful", "harmless"], "model": msg.data.get("model")}
            sys.stdout.write(encode("result", "inference", request="load", data=data))
        elif msg.type == "set_weights":
            weights = msg.data["weights"]
        elif msg.type == "generate":
            pieces = [f"[{json.dumps(weights, sort_keys=True)}] ", *msg.data["prompt"].split()]
            for piece in pieces:
                sys.stdout.write(encode("token", "inference", request=msg.data["request"], text=piece + " "))
            sys.stdout.write(encode("result", "inference", request=msg.data["request"], data={"text": " ".join(pieces)}))
        elif msg.type == "quit":
            break
        sys.stdout.flush()
    sys.stdout.write(encode("ended", "inference", reason="finished", error=""))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
