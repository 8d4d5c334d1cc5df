"""A stand-in for `workbench worker train`: speaks the real protocol (workbench.core.protocol) on stdout and appends
to run_dir/events.jsonl, with behaviour chosen by run_dir/fake.json so tests can exercise every supervisor path.

fake.json: {"mode": "metrics" | "wait" | "ignore_stop" | "crash", "n": <metric events>, "garbage": bool}
- metrics: status, n metric events (step i, loss = 1/(i+1), rewards/margins = i/n), optional eval, ended finished
- wait: status "training", then waits for `stop` (or EOF) on stdin; records it in got_stop; ended stopped
- ignore_stop: status, then sleeps forever whatever arrives on stdin (the supervisor must kill it)
- slow_stop: like wait, but after `stop` it takes `delay` seconds (a slow step), then writes run_dir/checkpointed,
  a checkpoint event and ended stopped
- margins: n metric events, then the after-training pass (status "evaluating", "scoring pairs for active
  labelling", progress 0, 0.25, 0.5 a tenth of a second apart), then waits for `stop` and ends finished, as the real
  worker does when a stop cuts that pass short
- crash: writes "boom: CUDA out of memory" to stderr and exits with code 3 (no ended event)
- eval / eval_fail: `worker eval`: one eval event per weight vector of --weights-json (helpful/accuracy =
  0.5 + 0.4·w_helpful, harmless/accuracy = 0.5 + 0.4·w_harmless, checkpoint = --checkpoint), then ended finished;
  eval_fail stops after the first with ended failed "out of memory"; eval_wait reports progress 0 and 1/3 on
  stdout (status events, as the real evaluation worker does) and then waits for `stop`
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from workbench.core.protocol import decode, encode  # noqa: E402


def main() -> int:
    run_dir = Path(sys.argv[sys.argv.index("--run-dir") + 1])
    spec = json.loads((run_dir / "fake.json").read_text())
    run = spec.get("run", "1")
    events = open(run_dir / "events.jsonl", "a", encoding="utf-8")
    out = sys.stdout

    def emit(type_: str, **data) -> None:
        line = encode(type_, run, **data)
        events.write(line)
        out.write(line)

    mode = spec.get("mode", "metrics")
    with open(run_dir / "argv.txt", "a", encoding="utf-8") as fh:  # how each launch was asked (resume or not)
        fh.write(" ".join(sys.argv[1:]) + "\n")
    if mode in ("eval", "eval_fail", "eval_wait"):
        return fake_eval(sys.argv, mode, emit, events, out)
    n = int(spec.get("n", 10))
    emit("status", state="training", message="fake", progress=0.0, step=0, total_steps=n)
    out.flush()
    if mode == "metrics":
        if spec.get("garbage"):
            out.write("this is not json\n")
        for i in range(n):
            emit("metric", step=i + 1, values={"loss": 1.0 / (i + 1), "rewards/margins": i / n, "eta_s": n - i})
        if spec.get("eval"):
            emit("eval", step=n, values={"helpful/accuracy": 0.75}, checkpoint=None, weights=None)
        emit("ended", reason="finished", error="", step=n)
    elif mode == "wait":
        for raw in sys.stdin:
            if raw.strip() and decode(raw).type == "stop":
                (run_dir / "got_stop").write_text("stop")
                break
        emit("ended", reason="stopped", error="", step=0)
    elif mode == "margins":
        for i in range(n):
            emit("metric", step=i + 1, values={"loss": 0.5, "eta_s": float(n - i - 1)})
        for p in (0.0, 0.25, 0.5):
            emit("status", state="evaluating", message="scoring pairs for active labelling", progress=p, step=n,
                 total_steps=n)
            out.flush()
            time.sleep(0.1)
        for raw in sys.stdin:
            if raw.strip() and decode(raw).type == "stop":
                break
        emit("log", level="info", message="stopped before the pair margins were written")
        emit("ended", reason="finished", error="", step=n)
    elif mode == "slow_stop":
        for raw in sys.stdin:
            if raw.strip() and decode(raw).type == "stop":
                break
        time.sleep(float(spec.get("delay", 1.0)))
        (run_dir / "checkpointed").write_text("step 3")
        emit("checkpoint", step=3, path="checkpoints/step-3")
        emit("ended", reason="stopped", error="", step=3)
    elif mode == "ignore_stop":
        events.flush()
        out.flush()
        while True:
            time.sleep(0.1)
    elif mode == "crash":
        events.flush()
        out.flush()
        sys.stderr.write("boom: CUDA out of memory\n")
        sys.stderr.flush()
        return 3
    events.close()
    out.flush()
    return 0


def fake_eval(argv: list[str], mode: str, emit, events, out) -> int:
    checkpoint = argv[argv.index("--checkpoint") + 1] if "--checkpoint" in argv else None
    weights = json.loads(argv[argv.index("--weights-json") + 1]) if "--weights-json" in argv else [None]
    if mode == "eval_wait":
        for i in range(2):
            out.write(encode("status", "5", state="evaluating", message=f"mixture {i + 1}", progress=i / 3))
            out.flush()
            time.sleep(0.1)
        for raw in sys.stdin:
            if raw.strip() and decode(raw).type == "stop":
                break
        emit("ended", reason="stopped", error="", step=10)
        out.flush()
        return 0
    for i, w in enumerate(weights):
        values = {"helpful/accuracy": 0.5 + 0.4 * (w or {}).get("helpful", 0.5),
                  "harmless/accuracy": 0.5 + 0.4 * (w or {}).get("harmless", 0.5), "kl": 0.01 * i}
        emit("eval", step=10, values=values, checkpoint=checkpoint, weights=w)
        out.flush()
        if mode == "eval_fail":
            emit("ended", reason="failed", error="out of memory", step=10)
            break
    else:
        emit("ended", reason="finished", error="", step=10)
    events.close()
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
