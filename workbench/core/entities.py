"""Core entities: frozen dataclasses that every layer passes around (DESIGN.md §1, §4).

The store returns these, never ORM objects; the UI shows these; formats produce the import records below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Direction = Literal["maximize", "minimize"]
Choice = Literal["a", "b", "tie", "skip"]
ModelSource = Literal["local", "hub", "gguf"]
RunStatus = Literal["created", "running", "stopping", "finished", "stopped", "failed", "crashed"]

# A chat conversation in the usual {"role": ..., "content": ...} form.
Messages = list[dict[str, str]]

STRENGTHS = {1: "slight", 2: "clear", 3: "strong"}


@dataclass(frozen=True)
class Objective:
    id: int
    name: str
    description: str = ""
    direction: Direction = "maximize"


@dataclass(frozen=True)
class Annotator:
    id: int
    name: str


@dataclass(frozen=True)
class Prompt:
    id: int
    text: str
    messages: Messages | None = None  # the conversation when the prompt came as chat messages
    source: str = ""


@dataclass(frozen=True)
class Response:
    id: int
    prompt_id: int
    text: str
    messages: Messages | None = None
    model: str = ""  # which model produced it ("" when imported without that information)
    generation: dict[str, Any] = field(default_factory=dict)  # sampling settings, seed, ...


@dataclass(frozen=True)
class Pair:
    id: int
    prompt_id: int
    response_a_id: int
    response_b_id: int
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # unknown columns kept from import (score_chosen, ...)


@dataclass(frozen=True)
class Label:
    id: int
    pair_id: int
    objective_id: int
    annotator_id: int
    choice: Choice
    strength: int = 2  # 1 slight, 2 clear, 3 strong
    note: str = ""
    created_at: datetime | None = None
    shown_swapped: bool = False  # True when the annotator saw response B on the left (position bias)
    superseded: bool = False  # undo/relabel never deletes: the old row is marked superseded


@dataclass(frozen=True)
class ModelInfo:
    id: int
    name: str
    source: ModelSource
    location: str  # folder, hub id or .gguf path
    revision: str = ""
    dtype: str = "auto"
    trust_remote_code: bool = False


@dataclass(frozen=True)
class Run:
    id: int
    name: str
    config: dict[str, Any]
    status: RunStatus
    run_dir: str
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str = ""
    last_step: int = 0


@dataclass(frozen=True)
class MetricPoint:
    run_id: int
    step: int
    key: str
    value: float


@dataclass(frozen=True)
class Checkpoint:
    id: int
    run_id: int
    step: int
    path: str


@dataclass(frozen=True)
class Evaluation:
    id: int
    objective: str  # objective name or scorer name
    metric: str  # e.g. "accuracy", "margin", "score", "kl", "length"
    value: float
    run_id: int | None = None
    checkpoint_id: int | None = None
    weights: dict[str, float] | None = None  # mixture weights when the evaluation is of a mixture
    produced_by: dict[str, Any] = field(default_factory=dict)  # evaluator, prompt set, settings


# --- import records: what formats/ produce and the store ingests ------------------------------------------


@dataclass(frozen=True)
class PreferenceRecord:
    """One preference pair read from a dataset file: `chosen` is preferred over `rejected`.

    `prompt`, `chosen`, `rejected` are plain strings or chat-message lists (TRL's conversational form).
    `objective` is None when the file does not say which objective the preference is for (the importer then
    uses the objective the user picked). `line` is the 1-based line (or record) number for error messages.
    """

    prompt: str | Messages
    chosen: str | Messages
    rejected: str | Messages
    objective: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    tie: bool = False


@dataclass(frozen=True)
class UnpairedRecord:
    """KTO-style unpaired feedback: a completion marked desirable (True) or undesirable (False)."""

    prompt: str | Messages
    completion: str | Messages
    label: bool
    objective: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    line: int = 0
