"""Prepare a run folder from the project (DESIGN.md §3): the run row, run_dir/config.json, run_dir/data.jsonl
(the labelled pairs) and run_dir/candidates.jsonl (unlabelled pairs the finished run scores for the "active"
labelling order) are all a worker ever sees of the project. A kind="prm" run gets run_dir/steps.jsonl (the step
labels, store/step_run_data.py) instead of the pair files. run_dir/prompt_meta.json carries the prompts' known
reference answers for scorers such as answer_correct (core/prompt_meta.py)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.entities import Run
from workbench.core.errors import RunError
from workbench.core.prompt_meta import PROMPT_META_FILE, PromptMeta, prompt_text, write_prompt_meta
from workbench.core.run_config import RunConfig
from workbench.store.exports import export_candidates, export_run_data
from workbench.store.run_paths import project_folder, to_stored
from workbench.store.runs import create_run, get_run
from workbench.store.step_run_data import STEPS_FILE, export_step_run_data
from workbench.store.schema import PromptAnswerRow, PromptRow, RunRow


def slug(name: str) -> str:
    """A file-system-safe short form of a run name ("My run #2" -> "my-run-2")."""
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s[:40] or "run"


SCORERS_FILE = "scorers.py"  # the project's own scorer functions, next to the project file


def project_scorers(project_path: str | Path) -> Path:
    """The project's user scorers file: scorers.py in the folder holding the project file."""
    return Path(project_path).resolve().parent / SCORERS_FILE


def provide_scorers(project_path: str | Path | None, run_dir: Path) -> None:
    """Workers only see their run folder: give it the project's scorers.py unless it already has one (a run keeps
    the scorers it was trained with; MODPO margins and evaluation read run_dir/scorers.py)."""
    if project_path is None:
        return
    source = project_scorers(project_path)
    if source.is_file() and not (run_dir / SCORERS_FILE).exists():
        shutil.copyfile(source, run_dir / SCORERS_FILE)


def prepare_run(s: Session, cfg: RunConfig, runs_root: str | Path, *, pair_ids: set[int] | None = None) -> Run:
    """Create the run row and its folder runs_root/<id:04d>-<slug>/ with config.json, data.jsonl and
    candidates.jsonl (at most cfg.active_candidates pairs; the file is always written, empty when 0). `pair_ids`
    limits the training data to those pairs (a round's)."""
    problems = cfg.problems()
    if problems:
        raise RunError("; ".join(problems))
    root = Path(runs_root)
    run = create_run(s, cfg.name, cfg.to_dict(), "")
    run_dir = root / f"{run.id:04d}-{slug(cfg.name)}"
    run_dir.mkdir(parents=True, exist_ok=False)
    try:
        _write_inputs(s, cfg, run_dir, pair_ids)
    except BaseException:
        # the caller's transaction rolls the run row back and SQLite hands its id out again: the folder goes too
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    s.get(RunRow, run.id).run_dir = to_stored(project_folder(s), run_dir)  # known only once the row has its id
    s.flush()
    return get_run(s, run.id)


def _write_inputs(s: Session, cfg: RunConfig, run_dir: Path, pair_ids: set[int] | None = None) -> None:
    cfg.save(run_dir / "config.json")
    if cfg.kind == "prm":  # a process reward model trains on step labels, not pairs (store/step_run_data.py)
        steps = export_step_run_data(s, cfg.objectives, run_dir / STEPS_FILE, eval_fraction=cfg.eval_fraction,
                                     seed=cfg.seed)
        if steps.train_rows == 0:
            raise RunError("no step-labelled responses to train on for the chosen objectives: label the steps of "
                           "some responses first (Label panel, Steps mode) or import step labels")
        _provide_scorers(s, run_dir)
        return
    summary = export_run_data(s, cfg.objectives, run_dir / "data.jsonl", eval_fraction=cfg.eval_fraction,
                              seed=cfg.seed, pair_ids=pair_ids)
    if summary.train_rows == 0:
        raise RunError("no labelled pairs to train on for the chosen objectives: label some pairs first")
    export_candidates(s, cfg.objectives, run_dir / "candidates.jsonl", limit=cfg.active_candidates)
    meta = prompt_meta(s)
    if meta:
        write_prompt_meta(run_dir / PROMPT_META_FILE, meta)
    _provide_scorers(s, run_dir)


def prompt_meta(s: Session) -> PromptMeta:
    """Prompt text (as workers see it) -> {"reference_answer": ...} for every prompt with a known answer."""
    rows = s.execute(select(PromptRow.text, PromptRow.messages, PromptAnswerRow.answer)
                     .join(PromptAnswerRow, PromptAnswerRow.prompt_id == PromptRow.id))
    return {prompt_text(messages if messages is not None else text): {"reference_answer": answer}
            for text, messages, answer in rows}


def _provide_scorers(s: Session, run_dir: Path) -> None:
    database = s.get_bind().url.database
    if database and database != ":memory:":
        provide_scorers(database, run_dir)
