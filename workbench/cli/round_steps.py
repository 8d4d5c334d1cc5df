"""The four steps of an on-policy round (issue #15), shared by `workbench round` and the GUI's Rounds view (which
runs `workbench round PROJECT --step S` as a child process).

generate: sample k answers per prompt from the round's policy (+ the round-0 model / the parent for anchored /
          latest_chosen) in `workbench worker generate`, then store them and the pairs the round's policy builds.
label:    automatic labels (scorers; mix: the confident pairs); people label the rest in the Label panel.
train:    a run on this round's pairs only, its adapter starting from the parent round's final checkpoint, the
          same method and objectives (RunConfig.init_adapter); round 1 starts from a fresh adapter.
evaluate: the run's reward vector on the loop's fixed evaluation prompts (eval_prompts.json in the run folder).

Every step is resumable: generation continues where samples.jsonl stops, storing samples and pairs is idempotent
(store.rounds), an interrupted run is resumed from its last checkpoint, and a step is marked done only at its end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.cli.launch import self_command
from workbench.core.errors import InputError, RunError
from workbench.core.rounds import (STEPS, RoundSettings, Sample, SampleScorer, ScorerSet, auto_annotator, auto_choice,
                                   build_pair, human_pair, next_step, round_prompts)
from workbench.core.run_config import RunConfig
from workbench.store.rounds import Round

Progress = Callable[[str], None]


def rounds_root(project_path: str | Path) -> Path:
    return Path(project_path).with_suffix(".rounds")


def runs_root(project_path: str | Path) -> Path:
    return Path(project_path).with_suffix(".runs")


def _objectives(project, cfg: RunConfig) -> list[str]:
    from workbench.store.round_label import run_objectives

    with project.session() as s:
        return run_objectives(s, list(cfg.objectives))


def start_round(project, cfg: RunConfig, settings: RoundSettings) -> Round:
    """A new round after the last one, with its prompts and the loop's fixed evaluation prompts."""
    from workbench.store.rounds import create_round, list_rounds, prompt_pool

    problems = cfg.problems() + settings.problems(_objectives(project, cfg))
    if problems:
        raise RunError("; ".join(problems))
    with project.session() as s:
        number = len(list_rounds(s)) + 1
        prompts, evaluation = round_prompts(prompt_pool(s), settings, number)
        if not prompts:
            raise RunError(f"the project has no prompts beyond the {settings.eval_prompts} kept for evaluation: "
                           "import prompts first (or lower eval_prompts)")
        return create_round(s, settings, cfg.to_dict(), prompts, evaluation, rounds_root(project.path))


def round_checkpoint(project, number: int) -> str | None:
    """Absolute path of round `number`'s final checkpoint (None for round 0: the base model)."""
    from workbench.store.rounds import get_round
    from workbench.store.runs import get_run, list_checkpoints

    if number <= 0:
        return None
    with project.session() as s:
        rnd = get_round(s, number)
        if rnd.run_id is None or not (checkpoints := list_checkpoints(s, rnd.run_id)):
            raise RunError(f"round {number} has no trained checkpoint yet: finish its train step first")
        return str(Path(get_run(s, rnd.run_id).run_dir) / checkpoints[-1].path)


# --- generate --------------------------------------------------------------------------------------------------


def _scorer(project, rnd: Round, objectives: list[str]) -> SampleScorer | None:
    from workbench.cli.consent import project_registry

    if rnd.settings.labeller == "human":
        return None
    if rnd.settings.label_reward_model:  # a trained vector reward model labels (issue #17)
        from workbench.inference.reward_scoring import RewardModelLabeller

        return RewardModelLabeller(rnd.settings.label_reward_model, objectives)
    # the project's scorers.py runs only when trusted (issue #12): UntrustedScorers says how otherwise
    registry = project_registry(project.path, [rnd.settings.label_scorers[o] for o in objectives])
    return ScorerSet({o: registry.get(rnd.settings.label_scorers[o]) for o in objectives})


def run_worker(argv: list[str], label: str, progress: Progress, env: dict[str, str] | None = None) -> str:
    """Run a worker to its end, printing its progress lines; returns how it ended (finished | stopped)."""
    from workbench.cli.eval_cmd import drive
    from workbench.cli.supervise import WorkerProcess
    from workbench.cli.train import progress_line

    last = [""]

    def on_batch(batch: list) -> None:
        for m in batch:
            line = progress_line(m)
            if line and m.type != "ended" and line != last[0]:
                progress(line)
                last[0] = line

    ended = drive(WorkerProcess(argv, run_id=label, env=env), on_batch, progress)
    reason = ended.data.get("reason", "crashed") if ended is not None else "crashed"
    if reason not in ("finished", "stopped"):
        raise RunError(f"{label} {reason}: {(ended.data.get('error') if ended else '') or 'no reason given'}; "
                       "run the step again to continue where it stopped")
    return reason


def write_generate_spec(project, rnd: Round) -> Path:
    from workbench.store.rounds import prompt_contents

    folder = Path(rnd.folder)
    with project.session() as s:
        prompts = prompt_contents(s, rnd.prompt_ids)
    spec = {"round": rnd.number, "run_config": rnd.run_config, "settings": rnd.settings.to_dict(),
            "sources": rnd.settings.sources(rnd.number), "prompts": prompts,
            "policy_checkpoint": round_checkpoint(project, rnd.number - 1),
            "parent_checkpoint": round_checkpoint(project, rnd.number - 2) if rnd.number >= 2 else None}
    (folder / "generate.json").write_text(json.dumps(spec, indent=1, ensure_ascii=False), encoding="utf-8")
    return folder


def step_generate(project, rnd: Round, progress: Progress = print) -> bool:
    """Sample (resuming), then store the samples and build the round's pairs; False when stopped."""
    folder = write_generate_spec(project, rnd)
    argv = self_command() + ["worker", "generate", "--round-dir", str(folder)]
    if run_worker(argv, f"round {rnd.number} generation", progress) != "finished":
        return False
    pairs = store_pairs(project, rnd)
    progress(f"round {rnd.number}: {pairs} pairs from {len(rnd.prompt_ids)} prompts")
    return True


def store_pairs(project, rnd: Round) -> int:
    """Responses and pairs (tagged with the round) from samples.jsonl; marks generate done. Idempotent."""
    from workbench.inference.round_samples import SAMPLES_FILE, read_samples
    from workbench.store.rounds import add_round_pair, add_samples, mark_done, prompt_contents

    cfg = RunConfig.from_dict(rnd.run_config)
    objectives = _objectives(project, cfg)
    scorer = _scorer(project, rnd, objectives)
    directions = dict(scorer.directions) if scorer else {}
    rows = read_samples(Path(rnd.folder) / SAMPLES_FILE)
    rewards = {(int(r["prompt_id"]), text): float(v) for r in rows  # the round's policy's implicit rewards
               for text, v in zip(r["texts"], r.get("rewards") or [])}
    count = 0
    with project.session() as s:
        texts = {p["id"]: p["prompt"] for p in prompt_contents(s, rnd.prompt_ids)}
        by_prompt = add_samples(s, rnd.number, rows, cfg.model)
        for pid, found in sorted(by_prompt.items()):
            prompt = texts[pid] if isinstance(texts[pid], str) else json.dumps(texts[pid])
            scores = scorer.scores(prompt, [t for _, _, t in found]) if scorer else [{} for _ in found]
            samples = [Sample(rid, src, sc) for (src, rid, _), sc in zip(found, scores)]
            reward = {rid: rewards[(pid, text)] for _, rid, text in found if (pid, text) in rewards}
            for (a, b), extra in _pairs_of(samples, objectives, directions, rnd.settings).items():
                margin = reward[a] - reward[b] if a in reward and b in reward else None
                add_round_pair(s, rnd.id, rnd.number, pid, a, b, extra["gap"], extra["chosen"], margin)
                count += 1
        mark_done(s, rnd.id, "generate")
    return count


def _pairs_of(samples: list[Sample], objectives: list[str], directions: dict[str, str],
              settings: RoundSettings) -> dict[tuple[int, int], dict[str, Any]]:
    """(a, b) -> {"gap": {objective: chosen-minus-rejected gap}, "chosen": {objective: "a" | "b"}}, a = the lower
    response id; scorer-less rounds: one pair for people, with no gaps."""
    if not any(s.scores for s in samples):
        pair = human_pair(samples, settings)
        return {tuple(sorted(pair)): {"gap": {}, "chosen": {}}} if pair else {}
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for objective in objectives:
        choice = build_pair(samples, objective, directions.get(objective, "maximize"), settings)
        if choice is not None:
            key = tuple(sorted((choice.chosen, choice.rejected)))
            entry = out.setdefault(key, {"gap": {}, "chosen": {}})
            entry["gap"][objective] = choice.gap
            entry["chosen"][objective] = "a" if choice.chosen == key[0] else "b"
    return out


# --- label -----------------------------------------------------------------------------------------------------


def step_label(project, rnd: Round, progress: Progress = print) -> int:
    """Automatic labels where the labeller gives them; returns how many round pairs still wait for people (the
    step is done when none does; which pairs and in what order: store.round_label, as in the Label panel)."""
    from sqlalchemy import select

    from workbench.store.round_label import close_labelling, round_label_queue
    from workbench.store.rounds import add_auto_label, mark_done, round_pair_ids
    from workbench.store.schema import PairRow

    added = 0
    with project.session() as s:
        for pid in round_pair_ids(s, rnd.id):
            extra = dict(s.scalar(select(PairRow.extra).where(PairRow.id == pid)) or {})
            chosen = dict(extra.get("chosen", {}))
            for objective, gap in dict(extra.get("gap", {})).items():
                choice = auto_choice(float(gap), chosen.get(objective) == "a", rnd.settings)
                if choice is not None:
                    name = auto_annotator(rnd.settings, objective)
                    added += add_auto_label(s, pid, objective, name, choice)
        if rnd.settings.labeller == "scorers":  # pairs carry labels only for the objectives they were built for
            mark_done(s, rnd.id, "label")
            progress(f"round {rnd.number}: {_labels(added)}")
            return 0
        queue = round_label_queue(s, rnd.number)
        waiting = len(queue.pair_ids)
        if waiting == 0:
            close_labelling(s, rnd.number)
    progress(f"round {rnd.number}: {_labels(added)}; {queue.labelled} of {queue.total} pairs labelled"
             + (f"; {waiting} wait for people in the Label panel (order: {queue.order_text()})" if waiting else ""))
    return waiting


def _labels(n: int) -> str:
    return f"{n} automatic label{'s' if n != 1 else ''}"


# --- train / evaluate ------------------------------------------------------------------------------------------


def step_train(project, rnd: Round, progress: Progress = print) -> bool:
    """Train (or resume) the round's run; True when it finished."""
    from workbench.cli.supervise import WorkerProcess
    from workbench.cli.train import follow, worker_argv
    from workbench.store.rounds import attach_run, mark_done, prompt_contents, round_pair_ids
    from workbench.store.run_prep import prepare_run
    from workbench.store.runs import get_run, set_run_status

    resume = rnd.run_id is not None
    with project.session() as s:
        if resume:
            run = get_run(s, rnd.run_id)
            if run.status == "finished":
                mark_done(s, rnd.id, "label")
                mark_done(s, rnd.id, "train")
                return True
        else:
            cfg = RunConfig.from_dict({**rnd.run_config, "name": f"round {rnd.number}",
                                       "init_adapter": round_checkpoint(project, rnd.number - 1) or ""})
            run = prepare_run(s, cfg, runs_root(project.path), pair_ids=set(round_pair_ids(s, rnd.id)))
            attach_run(s, rnd.id, run.id)
            prompts = [p["prompt"] for p in prompt_contents(s, rnd.eval_prompt_ids)]
            (Path(run.run_dir) / "eval_prompts.json").write_text(json.dumps(prompts, ensure_ascii=False),
                                                                 encoding="utf-8")
        mark_done(s, rnd.id, "label")  # training on what is labelled closes the labelling of this round
        set_run_status(s, run.id, "running")
    progress(f"round {rnd.number}: run {run.id} ({run.run_dir})" + (" resumed" if resume else ""))
    from workbench.cli.consent import worker_env
    from workbench.cli.supervise import WORKER_LOG

    final = follow(project, run.id, WorkerProcess(worker_argv(Path(run.run_dir), resume), run_id=str(run.id),
                                                  log_path=Path(run.run_dir) / WORKER_LOG,
                                                  env=worker_env(project.path)))
    if final.status != "finished":
        raise RunError(f"round {rnd.number}'s run {final.id} {final.status}"
                       + (f": {final.error}" if final.error else "") + "; run the train step again to resume it")
    with project.session() as s:
        mark_done(s, rnd.id, "train")
    progress(f"round {rnd.number}: run {final.id} finished")
    return True


def step_evaluate(project, rnd: Round, progress: Progress = print) -> None:
    from workbench.cli.eval_cmd import evaluate_run
    from workbench.store.rounds import mark_done

    if rnd.run_id is None:
        raise RunError(f"round {rnd.number} has no run yet: train it first")
    evaluate_run(project, rnd.run_id, progress=progress)
    with project.session() as s:
        mark_done(s, rnd.id, "evaluate")
    progress(f"round {rnd.number}: run {rnd.run_id} evaluated on {len(rnd.eval_prompt_ids)} fixed prompts")


def run_step(project, rnd: Round, step: str, progress: Progress = print) -> bool:
    """One step of a round; False when it is not finished (stopped, or labels still owed)."""
    if step not in STEPS:
        raise InputError(f"unknown step {step!r}; choose one of {', '.join(STEPS)}")
    if step == "generate":
        return step_generate(project, rnd, progress)
    if step == "label":
        return step_label(project, rnd, progress) == 0
    if step == "train":
        return step_train(project, rnd, progress)
    step_evaluate(project, rnd, progress)
    return True


def advance(project, rnd: Round, progress: Progress = print) -> bool:
    """Run the round's remaining steps in order; False when one cannot finish now (labels owed, stopped)."""
    from workbench.store.rounds import get_round

    while (step := next_step(rnd.done)) is not None:
        if not run_step(project, rnd, step, progress):
            return False
        with project.session() as s:
            rnd = get_round(s, rnd.number)
    return True
