"""Benchmark of the real inference worker on the tiny model (CPU, one intra-op thread as in the tests):
start-up, load, first token, tokens/s, cancel latency.

    .venv/bin/python tests/inference/bench_inference_worker.py [--tokens 128] [--repeats 3]

Prints a table. Numbers depend on the machine and its load; they are reported, never asserted (common rules).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.inference.conftest import WorkerPipe  # noqa: E402
from workbench.training.tiny_model import build_tiny_model  # noqa: E402


def first_token_and_result(pipe: WorkerPipe, request: str, **settings) -> tuple[float, dict]:
    sent = time.perf_counter()
    pipe.send("generate", request=request, prompt="Tell me about the sea.", **settings)
    first = None
    while True:
        msg = pipe.until(lambda m: m.data.get("request") == request)[-1]
        if msg.type == "token" and first is None:
            first = time.perf_counter() - sent
        if msg.type == "result":
            return first or 0.0, msg.data["data"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-infer-"))
    model_dir = build_tiny_model(tmp / "tiny")
    start = time.perf_counter()
    pipe = WorkerPipe(tmp)
    pipe.send("load", request="load", model=str(model_dir), device="cpu")
    msgs = pipe.until(lambda m: m.type == "result")
    ready = time.perf_counter() - start
    status = [m for m in msgs if m.type == "status"]
    load_s = msgs[-1].time - status[0].time
    rows = [("worker start → model loaded (s)", f"{ready:.2f}"), ("load command → result (s)", f"{load_s:.2f}")]
    ttft, rates = [], []
    for i in range(args.repeats):
        first, data = first_token_and_result(pipe, f"g{i}", temperature=0, max_new_tokens=args.tokens)
        ttft.append(first)
        rates.append(data["tokens_per_s"])
    rows += [(f"first token, greedy (ms, median of {args.repeats})", f"{1000 * statistics.median(ttft):.1f}"),
             (f"tokens/s, greedy {args.tokens} new tokens (median)", f"{statistics.median(rates):.1f}")]
    sent = time.perf_counter()
    pipe.send("generate", request="long", prompt="Tell me about the sea.", temperature=0, max_new_tokens=400)
    pipe.until(lambda m: m.type == "token" and m.data["request"] == "long")
    cancel_at = time.perf_counter()
    pipe.send("cancel", request="long")
    data = pipe.until(lambda m: m.type == "result" and m.data["request"] == "long")[-1].data["data"]
    rows += [("cancel → result (ms)", f"{1000 * (time.perf_counter() - cancel_at):.1f}"),
             ("tokens generated before the cancel took effect", str(data["tokens"])),
             ("whole cancelled request (s)", f"{time.perf_counter() - sent:.2f}")]
    pipe.close()
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
