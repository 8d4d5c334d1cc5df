"""The demo project: a folder with demo.sqlite (objectives + the bundled labelled pairs), the demo's scorers.py
next to it (the project's scorers file, workbench.store.run_prep.project_scorers) and the run settings.

The bundled files live in resources/demo/ (README.md there says how the pairs were made and labelled). Two
objectives pull against each other: brevity (fewer words) and detail (more distinct content words); both are
scored by the same functions that labelled the pairs, so the front measures what the labels asked for.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from workbench.core.errors import ProjectError
from workbench.core.run_config import RunConfig
from workbench.core.scorer_trust import TrustBook, file_sha256

PROJECT_FILE = "demo.sqlite"
MARKER = ".workbench-demo"  # marks a folder the demo made, so running the demo again may replace its files
OBJECTIVES = {  # name -> (direction, description); directions match the scorers' in resources/demo/scorers.py
    "brevity": ("minimize", "Say it in as few words as possible (score: words in the answer, fewer is better)."),
    "detail": ("maximize", "Cover more ground (score: distinct content words in the answer, more is better)."),
}


def demo_resources() -> Path:
    """resources/demo: next to the package in a source checkout (editable install), inside it in a frozen build."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "resources" / "demo", here.parents[2] / "resources" / "demo"):
        if (candidate / "pairs.jsonl").is_file():
            return candidate
    raise ProjectError("the demo data (resources/demo/pairs.jsonl) is missing from this installation; reinstall "
                       "the program from a source checkout")


@dataclass(frozen=True)
class DemoSize:
    """How big the demo run is. SmolLM2's size was cut until the whole run fits the README's budget on a 2-core
    CPU as far as a shared machine could measure it (resources/demo/README.md has the numbers); the tiny model's
    is the smallest that still exercises every step (the test runs it)."""

    prompts: int  # the bundled pairs of the first N prompts go into the project (0 = all)
    steps: int
    points: int  # weight values per objective axis (2 objectives: this many mixtures)
    eval_prompts: int
    eval_max_new_tokens: int
    batch_size: int
    learning_rate: float
    max_length: int


# Issue 11: five mixtures (plus the base model) and a run long and strong enough that each head's score follows its
# weight. 16 steps at 2e-4 moved brevity by 2 words of 36; at 1e-3 the loss left ln 2 for 0.4-0.6 within 5 steps.
# max_length 96 leaves the short answers' end-of-turn token in their completion (the long ones are cut before
# it), so the brevity head learns to stop and answers can end before the 48-token cap.
SMOLLM2_SIZE = DemoSize(prompts=20, steps=30, points=5, eval_prompts=6, eval_max_new_tokens=48, batch_size=4,
                        learning_rate=1e-3, max_length=96)
TINY_SIZE = DemoSize(prompts=12, steps=12, points=3, eval_prompts=4, eval_max_new_tokens=12, batch_size=4,
                     learning_rate=5e-3, max_length=160)


def demo_config(model: str, size: DemoSize) -> RunConfig:
    """One MAH-DPO run (a LoRA trunk + one head per objective), its mixtures rated by the demo's scorers."""
    return RunConfig(
        name="demo mah-dpo", model=model, method="mah_dpo", objectives=list(OBJECTIVES),
        eval_scorers={name: name for name in OBJECTIVES}, eval_prompts=size.eval_prompts,
        eval_max_new_tokens=size.eval_max_new_tokens, sweep_points=size.points,
        beta=0.1, learning_rate=size.learning_rate, warmup_ratio=0.1, scheduler="constant",
        max_steps=size.steps, batch_size=size.batch_size, lora_r=8, lora_alpha=16, head_rank=8,
        max_length=size.max_length, max_prompt_length=64, eval_fraction=0.2,
        checkpoint_every=size.steps, eval_every=0, log_every=1, seed=0, device="auto", active_candidates=0,
    )


def prepare_folder(folder: Path) -> Path:
    """Create `folder` for a new demo project; an earlier demo's files there (and only those) are replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    project = folder / PROJECT_FILE
    if project.exists() or (folder / "demo.runs").exists():
        if not (folder / MARKER).exists():
            raise ProjectError(f"{folder} already holds {PROJECT_FILE} that the demo did not make; choose another "
                               "folder with --dir")
        for name in (PROJECT_FILE, f"{PROJECT_FILE}-wal", f"{PROJECT_FILE}-shm", "scorers.py", "front.png"):
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / "demo.runs", ignore_errors=True)
    (folder / MARKER).write_text("made by `workbench demo`; running the demo again replaces its files here\n",
                                 encoding="utf-8")
    return project


def first_prompts(records: list, count: int) -> list:
    """The records whose prompt is among the first `count` distinct prompts of the file (all when count is 0)."""
    if count <= 0:
        return records
    kept: dict[str, None] = {}
    for r in records:
        if len(kept) < count:
            kept.setdefault(repr(r.prompt), None)
    return [r for r in records if repr(r.prompt) in kept]


def create_demo_project(folder: Path, prompts: int = 0) -> tuple[Path, str]:
    """demo.sqlite with the objectives and the bundled pairs (labelled by annotator 'scorers'), plus scorers.py.

    `prompts` > 0 keeps only the pairs of that many prompts (the tiny model's quick run). Returns the project
    path and a one-line summary of what went in."""
    from workbench.formats import read_dataset
    from workbench.store.db import create_project
    from workbench.store.imports import import_records
    from workbench.store.objectives import add_objective

    resources = demo_resources()
    path = prepare_folder(folder)
    records = first_prompts(read_dataset(resources / "pairs.jsonl", "trl"), prompts)
    project = create_project(path)
    try:
        with project.session() as s:
            for name, (direction, description) in OBJECTIVES.items():
                add_objective(s, name, description, direction)
            report = import_records(s, records, default_objective=None, source="demo (resources/demo/pairs.jsonl)",
                                    annotator="scorers")
    finally:
        project.close()
    shutil.copyfile(resources / "scorers.py", folder / "scorers.py")
    # our own bundled code, not a received file: trusted from the start (core.scorer_trust)
    TrustBook().trust(path, file_sha256(folder / "scorers.py"))
    n_prompts = len({repr(r.prompt) for r in records})
    return path, (f"{n_prompts} prompts, {report.pairs_added} pairs, {report.labels_added} labels (brevity, detail) "
                  "by the demo's scorers")
