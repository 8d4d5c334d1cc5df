"""Event ingestion: a file written in pieces, partial last lines, garbage, end reasons, start-up reconciliation."""

from __future__ import annotations

import math
from pathlib import Path

from workbench.core.protocol import decode, encode
from workbench.store.db import Project
from workbench.store.ingest import CRASHED_MESSAGE, EVENTS_FILE, ingest_events, ingest_events_file, reconcile_runs
from workbench.store.runs import (create_run, get_run, list_checkpoints, list_evaluations, metric_keys,
                                  metric_series, set_run_status)


def _events() -> list[str]:
    return [
        encode("status", "1", state="training", message="", progress=0.0, step=0, total_steps=4),
        encode("metric", "1", step=1, values={"loss": 0.69, "rewards/chosen": 0.0}),
        encode("metric", "1", step=2, values={"loss": 0.6, "rewards/chosen": float("nan")}),
        encode("checkpoint", "1", step=2, path="checkpoints/step-2"),
        encode("eval", "1", step=2, values={"helpful/accuracy": 0.8, "kl": 0.01}, checkpoint="checkpoints/step-2",
               weights=None),
        encode("metric", "1", step=3, values={"loss": 0.5}),
        encode("ended", "1", reason="failed", error="CUDA out of memory: lower the batch size", step=3),
    ]


def test_file_written_in_pieces(project: Project, tmp_path: Path) -> None:
    path = tmp_path / EVENTS_FILE
    events = _events()  # encode() stamps the time: build the lines once
    data = "".join(events[:3]) + "this is not json\n" + '{"v": 99, "type": "metric"}\n' + "".join(events[3:])
    cut = data.index(events[3]) + 10  # in the middle of the checkpoint line
    with project.session() as s:
        run = create_run(s, "r", {}, str(tmp_path))
        path.write_text(data[:cut])
        first = ingest_events_file(s, run.id, path)
        assert (first.metrics, first.checkpoints, first.garbage, first.ended) == (4, 0, 2, None)
        assert get_run(s, run.id).status == "running" and get_run(s, run.id).last_step == 2
        again = ingest_events_file(s, run.id, path)  # nothing new: the partial line waits
        assert (again.metrics, again.garbage) == (0, 0)
        with open(path, "a") as fh:
            fh.write(data[cut:])
        rest = ingest_events_file(s, run.id, path)
        assert (rest.metrics, rest.checkpoints, rest.evaluations, rest.ended, rest.last_step) == (1, 1, 2, "failed", 3)
        steps, loss = metric_series(s, run.id, "loss")
        assert (steps, loss) == ([1, 2, 3], [0.69, 0.6, 0.5])
        assert math.isnan(metric_series(s, run.id, "rewards/chosen")[1][1])
        assert metric_keys(s, run.id) == ["loss", "rewards/chosen"]
        (ckpt,) = list_checkpoints(s, run.id)
        assert (ckpt.step, ckpt.path) == (2, "checkpoints/step-2")
        evals = {(e.objective, e.metric): (e.value, e.checkpoint_id) for e in list_evaluations(s, run.id)}
        assert evals == {("helpful", "accuracy"): (0.8, ckpt.id), ("", "kl"): (0.01, ckpt.id)}
        ended = get_run(s, run.id)
        assert (ended.status, ended.error, ended.last_step) == ("failed", "CUDA out of memory: lower the batch size", 3)
        assert ended.ended_at is not None and ended.started_at is not None


def test_offset_survives_a_new_session(project: Project, tmp_path: Path) -> None:
    path = tmp_path / EVENTS_FILE
    path.write_text("".join(_events()[:2]))
    with project.session() as s:
        run_id = create_run(s, "r", {}, str(tmp_path)).id
        assert ingest_events_file(s, run_id, path).metrics == 2
    with project.session() as s:  # a restarted GUI: nothing is ingested twice
        assert ingest_events_file(s, run_id, path).metrics == 0
        assert metric_series(s, run_id, "loss") == ([1], [0.69])


def test_repeated_steps_keep_the_newest_value(project: Project) -> None:
    with project.session() as s:
        run_id = create_run(s, "r", {}, "d").id
        ingest_events(s, run_id, [decode(encode("metric", "1", step=5, values={"loss": 1.0}))])
        ingest_events(s, run_id, [decode(encode("metric", "1", step=5, values={"loss": 0.25})),
                                  decode(encode("ended", "1", reason="stopped", error="", step=5))])
        assert metric_series(s, run_id, "loss") == ([5], [0.25])
        assert get_run(s, run_id).status == "stopped"


def test_reconcile_marks_dead_runs_crashed(project: Project, tmp_path: Path) -> None:
    dirs = {name: tmp_path / name for name in ("dead", "alive", "finished_offline", "never_started")}
    for d in dirs.values():
        d.mkdir()
    (dirs["dead"] / EVENTS_FILE).write_text("".join(_events()[:2]))
    (dirs["alive"] / EVENTS_FILE).write_text("".join(_events()[:3]))
    (dirs["finished_offline"] / EVENTS_FILE).write_text(
        _events()[1] + encode("ended", "1", reason="finished", error="", step=1))
    with project.session() as s:
        ids = {name: create_run(s, name, {}, str(d)).id for name, d in dirs.items()}
        for name in ("dead", "alive", "finished_offline"):
            set_run_status(s, ids[name], "running")
    with project.session() as s:
        crashed = reconcile_runs(s, lambda run: run.name == "alive")
        assert [r.name for r in crashed] == ["dead"]
        states = {name: get_run(s, rid) for name, rid in ids.items()}
    assert states["dead"].status == "crashed" and states["dead"].error == CRASHED_MESSAGE
    assert states["alive"].status == "running" and states["alive"].last_step == 2
    assert states["finished_offline"].status == "finished" and states["finished_offline"].error == ""
    assert states["never_started"].status == "created"
    with project.session() as s:
        assert metric_series(s, ids["dead"], "loss") == ([1], [0.69])
