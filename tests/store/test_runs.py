"""Runs, evaluations and models: status times, NaN round trip, filters, model dedup."""

from __future__ import annotations

import math

import pytest

from workbench.core.errors import ProjectError
from workbench.store.db import Project
from workbench.store.models import add_model, list_models
from workbench.store.runs import (add_evaluation, create_run, get_run, list_evaluations, list_runs, set_run_status)


def test_run_status_times(project: Project) -> None:
    with project.session() as s:
        run = create_run(s, "first", {"beta": 0.1}, "/tmp/runs/1")
        assert (run.status, run.started_at, run.ended_at, run.config) == ("created", None, None, {"beta": 0.1})
        started = set_run_status(s, run.id, "running")
        assert started.started_at is not None and started.ended_at is None
        failed = set_run_status(s, run.id, "failed", "CUDA out of memory: lower the batch size")
        assert failed.ended_at is not None and failed.error.startswith("CUDA out of memory")
        assert set_run_status(s, run.id, "running").started_at == started.started_at  # a resume keeps it
        assert [r.name for r in list_runs(s)] == ["first"] and get_run(s, run.id).error == ""
        with pytest.raises(ProjectError, match="unknown run status"):
            set_run_status(s, run.id, "exploded")
        with pytest.raises(ProjectError, match="does not exist"):
            get_run(s, 42)


def test_evaluations(project: Project) -> None:
    with project.session() as s:
        run = create_run(s, "r", {}, "d")
        add_evaluation(s, objective="helpful", metric="accuracy", value=0.75, run_id=run.id)
        mix = add_evaluation(s, objective="harmless", metric="score", value=float("nan"),
                             weights={"helpful": 0.3, "harmless": 0.7}, produced_by={"evaluator": "rm"})
        assert math.isnan(mix.value) and mix.weights == {"helpful": 0.3, "harmless": 0.7}
        assert [(e.objective, e.value) for e in list_evaluations(s, run.id)] == [("helpful", 0.75)]
        assert len(list_evaluations(s)) == 2


def test_models(project: Project) -> None:
    with project.session() as s:
        m = add_model(s, "SmolLM", "hub", "HuggingFaceTB/SmolLM2-135M-Instruct", dtype="bf16")
        again = add_model(s, "SmolLM 135M", "hub", "HuggingFaceTB/SmolLM2-135M-Instruct", dtype="fp32")
        other = add_model(s, "SmolLM", "hub", "HuggingFaceTB/SmolLM2-135M-Instruct", revision="v2")
        assert again.id == m.id and again.dtype == "fp32" and other.id != m.id
        assert [x.name for x in list_models(s)] == ["SmolLM 135M", "SmolLM"]
        with pytest.raises(ProjectError, match="'local', 'hub' or 'gguf'"):
            add_model(s, "x", "ftp", "somewhere")
