"""`workbench worker generate --round-dir D`: a round's samples (k answers per prompt per source model), resumable.

Input: D/generate.json (written by workbench.cli.round_steps): the run settings (which base model), the policy
checkpoint (None = the base), the parent checkpoint, the prompts and the sampling settings.
Output: D/samples.jsonl, one line per (prompt, source) = {"prompt_id", "source", "texts", "seed"}, each written
and fsynced as soon as it is complete. A crash loses at most the line being written: on the next start a torn
last line is cut off, finished (prompt, source) lines are skipped, and every prompt is sampled from its own seed
(round seed, round number, prompt id, source), so the resumed file is the one an uninterrupted run would write.

From round 2 on (the policy is a trained checkpoint) each line also holds "rewards": every answer's implicit reward
under the round's policy, r = β·(log π(y|x) − log π_ref(y|x)) (Rafailov et al. 2023, eq. 5; the reference is the
base, adapter disabled), so a pair's margin under the parent run is r_a − r_b: the Label step's active order
(store/round_label.py). MAH-DPO policies are scored with their heads mixed as loaded (equal weights).

Sources: "policy" = the round's policy (the parent round's final checkpoint), "anchor" = the round-0 model (the base
model: the adapter disabled and heads off), "parent" = the policy's own parent checkpoint (latest_chosen policy).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TextIO

SPEC_FILE = "generate.json"
SAMPLES_FILE = "samples.jsonl"


def sample_seed(seed: int, round_number: int, prompt_id: int, source: str) -> int:
    """A seed of its own for every (round, prompt, source): resumed sampling repeats the uninterrupted run."""
    digest = hashlib.sha256(f"{seed}:{round_number}:{prompt_id}:{source}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def done_keys(path: Path) -> set[tuple[int, str]]:
    """(prompt id, source) of the complete lines of samples.jsonl; a torn last line (a crash while writing) is cut
    off the file so appending continues on a clean line."""
    if not path.exists():
        return set()
    raw = path.read_bytes()
    end = raw.rfind(b"\n") + 1
    if end != len(raw):
        with open(path, "r+b") as fh:
            fh.truncate(end)
    keys: set[tuple[int, str]] = set()
    for line in raw[:end].decode("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            keys.add((int(row["prompt_id"]), str(row["source"])))
    return keys


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Every complete line of samples.jsonl (first occurrence of each (prompt, source) only)."""
    out: dict[tuple[int, str], dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line: its prompt is generated again
            out.setdefault((int(row["prompt_id"]), str(row["source"])), row)
    return list(out.values())


class _Models:
    """Loads each source's model on first use (the policy's base doubles as the anchor: adapter disabled)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from workbench.core.run_config import RunConfig

        self.spec, self.cfg = spec, RunConfig.from_dict(spec["run_config"])
        self._loaded: dict[str, Any] = {}

    def _load(self, checkpoint: str | None) -> Any:
        from workbench.training.preference.steerable import load_steerable

        key = checkpoint or ""
        if key not in self._loaded:
            self._loaded[key] = load_steerable(self.cfg, checkpoint)
        return self._loaded[key]

    def get(self, source: str) -> tuple[Any, AbstractContextManager]:
        if source == "parent":
            return self._load(self.spec.get("parent_checkpoint")), nullcontext()
        s = self._load(self.spec.get("policy_checkpoint"))
        return s, (s.as_reference() if source == "anchor" else nullcontext())


def _sample(steerable: Any, prompt: Any, *, k: int, settings: dict[str, Any], seed: int) -> list[str]:
    return _sample_ids(steerable, prompt, k=k, settings=settings, seed=seed)[0]


def _sample_ids(steerable: Any, prompt: Any, *, k: int, settings: dict[str, Any], seed: int
                ) -> tuple[list[str], list[int], list[list[int]]]:
    """(texts, prompt ids, each answer's token ids up to its end of sequence) of k samples."""
    import torch

    from workbench.training.evaluation.evaluate import _eos_ids, encode_prompt

    tok, model = steerable.tokenizer, steerable.model
    ids = torch.tensor([encode_prompt(tok, prompt)], device=steerable.device)
    eos = _eos_ids(model, tok)
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                             num_return_sequences=k, max_new_tokens=int(settings["max_new_tokens"]),
                             temperature=float(settings["temperature"]), top_p=float(settings["top_p"]), top_k=0,
                             pad_token_id=tok.pad_token_id, eos_token_id=sorted(eos) or None)
    texts, answers = [], []
    for new in out[:, ids.shape[1]:].tolist():
        stop = next((i for i, t in enumerate(new) if t in eos), None)
        answer = new if stop is None else new[:stop + 1]  # the end-of-sequence token is part of the answer
        answers.append(answer)
        texts.append(tok.decode(new if stop is None else new[:stop], skip_special_tokens=True).strip())
    return texts, ids[0].tolist(), answers


def implicit_rewards(steerable: Any, prompt_ids: list[int], answers: list[list[int]], beta: float) -> list[float]:
    """β·(log π(y|x) − log π_ref(y|x)) of each answer under the steerable's checkpoint (π_ref: adapter off)."""
    import torch

    from workbench.training.evaluation.evaluate import _sequence_batch
    from workbench.training.engine.logprobs import sequence_logps

    batch = _sequence_batch([prompt_ids] * len(answers), answers, steerable.tokenizer.pad_token_id,
                            steerable.device)
    with torch.no_grad():
        policy = sequence_logps(steerable.model, batch).sum.double()
        with steerable.as_reference():
            ref = sequence_logps(steerable.model, batch).sum.double()
    return [float(v) for v in (beta * (policy - ref)).cpu()]


def jobs(spec: dict[str, Any]) -> Iterator[tuple[int, Any, str]]:
    """(prompt id, prompt, source) in generation order: by source (one model loaded at a time), then prompt."""
    for source in spec["sources"]:
        for p in spec["prompts"]:
            yield int(p["id"]), p["prompt"], source


def generate_round(round_dir: Path, emit: Callable[..., None], should_stop: Callable[[], bool]) -> bool:
    """Append the missing (prompt, source) lines to samples.jsonl; False when a stop request cut it short."""
    spec = json.loads((round_dir / SPEC_FILE).read_text(encoding="utf-8"))
    path = round_dir / SAMPLES_FILE
    done = done_keys(path)
    todo = [j for j in jobs(spec) if (j[0], j[2]) not in done]
    total = len(spec["prompts"]) * len(spec["sources"])
    models = _Models(spec)
    settings = spec["settings"]
    t0 = time.perf_counter()
    with open(path, "a", encoding="utf-8") as fh:
        for n, (prompt_id, prompt, source) in enumerate(todo):
            if should_stop():
                return False
            finished = total - len(todo) + n
            eta = "" if n == 0 else f", eta {(time.perf_counter() - t0) / n * (len(todo) - n):.0f}s"
            emit("status", state="generating", message=f"{source} samples, prompt {finished + 1}/{total}{eta}",
                 progress=finished / total, step=finished, total_steps=total)
            steerable, context = models.get(source)
            seed = sample_seed(int(settings["seed"]), int(spec["round"]), prompt_id, source)
            with context:
                texts, prompt_ids, answers = _sample_ids(steerable, prompt, k=int(settings["samples"]),
                                                         settings=settings, seed=seed)
            line = {"prompt_id": prompt_id, "source": source, "texts": texts, "seed": seed}
            if spec.get("policy_checkpoint"):  # a trained policy: the parent run's margins for the Label step
                policy, _ = models.get("policy")
                line["rewards"] = implicit_rewards(policy, prompt_ids, answers, models.cfg.beta)
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    return True


def main(round_dir: str | Path, *, stdin: TextIO | None = None) -> int:
    """The worker: always ends with an `ended` event (finished | stopped | failed) on its protocol stream."""
    from workbench.training.worker import StopListener, take_stdout

    out = take_stdout()
    from workbench.training.engine.events import EventSink

    round_dir = Path(round_dir)
    sink = EventSink(round_dir.name, out, None)
    stop = StopListener(stdin if stdin is not None else sys.stdin)
    try:
        finished = generate_round(round_dir, sink.emit, stop)
        sink.emit("ended", reason="finished" if finished else "stopped", error="", step=0)
        return 0
    except BaseException as exc:  # noqa: BLE001 - every way out ends with an ended event
        import traceback

        traceback.print_exc(file=sys.stderr)
        if isinstance(exc, KeyboardInterrupt):
            sink.emit("ended", reason="stopped", error="interrupted", step=0)
            return 130
        from workbench.training.evaluation.eval_worker import _failure_text

        sink.emit("ended", reason="failed", error=f"generation failed: {_failure_text(exc)}", step=0)
        return 1
    finally:
        sink.close()
