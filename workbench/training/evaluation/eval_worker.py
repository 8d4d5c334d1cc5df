"""The `workbench worker eval` process: reward vectors of checkpoints and mixtures, as protocol `eval` events.

One job = a run folder (config.json + data.jsonl, like training) and what to evaluate in it:
- a checkpoint folder (run_dir/checkpoints/step-N) evaluated as trained, or, when it holds MAH-DPO objective heads,
  at each requested weight vector (the heads mixed by MixingHook: one merged head, mo_api.md);
- no checkpoint for a soup run (cfg.method == "soup"): cfg.soup_adapters combined at each weight vector (soups.py).
Several jobs share one process, so a weight sweep pays the interpreter + torch start-up once.

Where events go: `eval` and warnings are appended to run_dir/events.jsonl (the durable record, ingested like a
training run's events) and written to stdout; `status` and the final `ended` go to stdout only. An evaluation
is not the run: its `ended` must never overwrite the training run's status when the GUI re-ingests the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.core.weights import validate_weights
from workbench.training.worker import StopListener, run_id_of, take_stdout

Weights = dict[str, float]
EVAL_REF_CACHE = "eval_ref_logps.pt"
EVAL_PROMPTS_FILE = "eval_prompts.json"  # optional: the prompts to generate on, instead of held-out ones


@dataclass(frozen=True)
class EvalJob:
    run_dir: Path
    checkpoint: str | None  # relative to run_dir ("checkpoints/step-3"); None for a soup run
    weights: list[Weights] | None = None  # None: the checkpoint as trained (a soup: cfg.weights)
    base: bool = False  # also evaluate the untrained base model first (adapter and heads off; issue 11)
    reward_model: str = ""  # a vector reward model's checkpoint rating the generations (overrides eval_reward_model)


@dataclass
class Policy:
    """A loaded model ready to evaluate: `mix(weights)` switches the mixture, `reference()` enters the base."""

    model: Any
    tokenizer: Any
    mix: Callable[[Weights], None] | None
    reference: Callable[[], contextlib.AbstractContextManager]
    objectives: list[str] = field(default_factory=list)  # what `mix` can weight
    heads: Any = None  # MAH-DPO ObjectiveHeads: mixtures then share one trunk pass (mixtures.py)
    base_head: Callable[[], contextlib.AbstractContextManager] | None = None  # the heads' mixing hook off


def checkpoint_step(checkpoint: str | None) -> int:
    """step-N -> N (0 for a soup, which has no checkpoint)."""
    name = Path(checkpoint).name if checkpoint else ""
    tail = name.split("-", 1)[-1]
    return int(tail) if name.startswith("step-") and tail.isdigit() else 0


def load_policy(cfg: RunConfig, job: EvalJob) -> Policy:
    """Base model + what the job evaluates: a checkpoint (with its MAH-DPO heads when it has them,
    workbench.training.preference.steerable) or, for a soup run, every objective's adapter (soups.py)."""
    if job.checkpoint is not None:
        from workbench.training.preference.steerable import load_steerable

        s = load_steerable(cfg, job.run_dir / job.checkpoint)
        return Policy(s.model, s.tokenizer, s.set_weights if s.hook is not None else None, s.as_reference,
                      list(s.objectives), s.heads, s.hook.disabled if s.hook is not None else None)
    if cfg.method != "soup":
        raise RunError(f"nothing to evaluate: give a checkpoint of this {cfg.method} run")
    from workbench.training.engine.model_loading import load_model
    from workbench.training.preference.soups import make_soup, soup_model

    loaded = load_model(cfg, for_training=False)
    adapters = {k: str(v) for k, v in cfg.soup_adapters.items()}
    model = soup_model(loaded.model.eval(), adapters)
    return Policy(model, loaded.tokenizer, lambda w: make_soup(model, adapters, w),
                  lambda: model.disable_adapter(), list(adapters))


def _weight_list(cfg: RunConfig, job: EvalJob, policy: Policy) -> list[Weights | None]:
    if job.weights is None:
        # a soup with no weights given: the run's own weights (equal when none were set)
        return [cfg.normalised_weights(policy.objectives)] if job.checkpoint is None else [None]
    if policy.mix is None:
        raise RunError(f"{job.checkpoint} has no objective heads, so it has one fixed trade-off; weights need a "
                       "mah_dpo checkpoint or a soup run")
    unknown = sorted({k for w in job.weights for k in w} - set(policy.objectives))
    if unknown:
        raise RunError(f"unknown objective(s) in the weights: {', '.join(unknown)}; this model mixes "
                       f"{', '.join(policy.objectives)}")
    # the one rule (core.weights), checked for every point before any is evaluated
    return [validate_weights(w, policy.objectives) for w in job.weights]


def run_job(job: EvalJob, emit_durable: Callable[..., None], emit_live: Callable[..., None],
            should_stop: Callable[[], bool]) -> bool:
    """Evaluate every weight vector of one job; False when a stop request cut it short."""
    from workbench.core.prompt_meta import PROMPT_META_FILE, read_prompt_meta, with_prompt_meta
    from workbench.core.scorer_trust import trusted_from_env, trusted_registry
    from workbench.training.engine.data import read_run_data, tokenize_pairs
    from workbench.training.evaluation.evaluate import evaluate_policy, evaluation_prompts
    from workbench.training.engine.reference import reference_logps

    cfg = RunConfig.load(job.run_dir / "config.json")
    if job.reward_model:  # chosen for this evaluation (Evaluate dialog, --reward-model): <objective>/reward
        cfg = dataclasses.replace(cfg, eval_reward_model=job.reward_model)
    step = checkpoint_step(job.checkpoint)
    status = lambda message, fraction=None: emit_live(  # noqa: E731 - a one-line partial
        "status", state="evaluating", message=message, progress=fraction, step=step, total_steps=0)
    status(f"loading {cfg.model}" + (f" + {job.checkpoint}" if job.checkpoint else " + soup adapters"))
    policy = load_policy(cfg, job)
    registry = trusted_registry(job.run_dir / "scorers.py", trusted_from_env(), needed=cfg.eval_scorers.values())
    meta = read_prompt_meta(job.run_dir / PROMPT_META_FILE)  # e.g. reference answers for answer_correct
    scorers = {obj: with_prompt_meta(registry.get(name), meta) for obj, name in cfg.eval_scorers.items()}
    rows = read_run_data(job.run_dir / "data.jsonl")
    if cfg.objectives:
        rows = [r for r in rows if r.objective in set(cfg.objectives)]
    # only held-out pairs are scored, so only they are tokenized and get reference log-probs (cached apart from
    # the trainer's ref_logps.pt, whose fingerprint covers every pair the method trains on)
    data = tokenize_pairs([r for r in rows if r.split == "eval"], policy.tokenizer, max_length=cfg.max_length,
                          max_prompt_length=cfg.max_prompt_length)
    if not len(data):
        emit_durable("log", level="warning", message="no held-out pairs: accuracy and margin are not measured "
                                                     "(raise eval_fraction)")
    status("reference log-probs of the held-out pairs")
    with policy.reference():  # heads off; reference_logps disables the adapter itself
        ref = reference_logps(policy.model, data, batch_size=cfg.batch_size, chunk_tokens=cfg.logprob_chunk,
                              cache_path=job.run_dir / EVAL_REF_CACHE, pad_id=policy.tokenizer.pad_token_id,
                              model_id=cfg.model)
    fixed = job.run_dir / EVAL_PROMPTS_FILE  # a round's run: the loop's fixed evaluation prompts (issue #15)
    prompts = (json.loads(fixed.read_text(encoding="utf-8")) if fixed.is_file()
               else evaluation_prompts(rows, cfg.eval_prompts))
    weight_list = _weight_list(cfg, job, policy)
    if job.base:  # the base model's reward vector: a point on every front and the hypervolume reference
        with policy.reference():  # inside, the model IS the reference: KL 0, margins 0
            values = evaluate_policy(policy.model, policy.tokenizer, data, ref, prompts, cfg, scorers,
                                     reference=contextlib.nullcontext,
                                     progress=lambda message, f: status(f"base model: {message}", None))
        emit_durable("eval", step=0, values=values, checkpoint=None, weights=None, base=True)
    if policy.heads is not None and getattr(policy.heads, "kind", "low_rank") == "low_rank" \
            and policy.mix is not None and policy.base_head is not None \
            and len(weight_list) > 1 and all(w is not None for w in weight_list):
        # low-rank heads share one trunk pass (mixtures.py); full heads go one mixture at a time below
        from workbench.training.evaluation.mixtures import evaluate_mixtures

        if should_stop():
            return False
        label = f"{len(weight_list)} mixtures"
        all_values = evaluate_mixtures(policy.model, policy.tokenizer, policy.heads, data, ref, prompts, cfg, scorers,
                                       [w for w in weight_list if w is not None], mix=policy.mix,
                                       base_head=policy.base_head, reference=policy.reference,
                                       progress=lambda message, f: status(f"{label}: {message}", f))
        for n, (weights, values) in enumerate(zip(weight_list, all_values)):
            status(f"point {n + 1}/{len(weight_list)}: done", (n + 1) / len(weight_list))
            emit_durable("eval", step=step, values=values, checkpoint=job.checkpoint, weights=weights)
        return True
    for n, weights in enumerate(weight_list):
        if should_stop():
            return False
        if weights is not None and policy.mix is not None:
            policy.mix(weights)
        label = f"point {n + 1}/{len(weight_list)}"
        values = evaluate_policy(policy.model, policy.tokenizer, data, ref, prompts, cfg, scorers,
                                 reference=policy.reference,
                                 progress=lambda message, f: status(f"{label}: {message}", (n + f) / len(weight_list)))
        emit_durable("eval", step=step, values=values, checkpoint=job.checkpoint, weights=weights)
    return True


def _failure_text(exc: BaseException) -> str:
    """One line for ended(failed): our own errors as they are, memory with advice, anything else by type."""
    from workbench.training.engine.failures import is_out_of_memory

    if is_out_of_memory(exc):
        return "out of memory while evaluating: lower batch_size, eval_max_new_tokens or eval_prompts"
    if isinstance(exc, RunError) or type(exc).__module__.startswith("workbench"):
        return str(exc)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def main(jobs: list[EvalJob], *, stdin: TextIO | None = None) -> int:
    """Run the jobs in order; always ends with an `ended` event on stdout. Exit code 0 unless a job failed."""
    out = take_stdout()
    from workbench.training.engine.events import EventSink

    stop = StopListener(stdin if stdin is not None else sys.stdin)
    live = EventSink(run_id_of(jobs[0].run_dir) if jobs else "", out, None)
    try:
        for job in jobs:
            durable = EventSink(run_id_of(job.run_dir), out, job.run_dir / "events.jsonl")
            live.run_id = durable.run_id
            try:
                finished = run_job(job, durable.emit, live.emit, stop)
            finally:
                durable.close()
            if not finished:
                live.emit("ended", reason="stopped", error="", step=checkpoint_step(job.checkpoint))
                return 0
        live.emit("ended", reason="finished", error="", step=checkpoint_step(jobs[-1].checkpoint) if jobs else 0)
        return 0
    except BaseException as exc:  # noqa: BLE001 - every way out ends with an ended event
        import traceback

        traceback.print_exc(file=sys.stderr)
        if isinstance(exc, KeyboardInterrupt):
            live.emit("ended", reason="stopped", error="interrupted", step=0)
            return 130
        message = _failure_text(exc)
        live.emit("ended", reason="failed", error=f"evaluation failed: {message}", step=0)
        return 1
    finally:
        live.close()
