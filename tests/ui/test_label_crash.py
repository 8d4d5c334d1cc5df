"""kill -9 in the middle of labelling loses no acknowledged label.

A child process runs a real LabelSession (offscreen Qt, the DB executor, the store) and answers every row as fast
as it can, printing each label id once `label_committed` says it is durable. The parent SIGKILLs it mid-stream,
reopens the project and checks that every printed id is there, active, with the choice that was made."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = textwrap.dedent("""
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import workbench.services  # the PySide6 refcount workaround first
    from PySide6.QtCore import QCoreApplication, QTimer
    from workbench.services.db_executor import DbExecutor
    from workbench.services.label_session import LabelSession
    from workbench.store.db import open_project

    app = QCoreApplication([])
    db = DbExecutor()
    db.set_project(db.call_plain_sync(open_project, sys.argv[1]))
    session = LabelSession(db, int(sys.argv[2]), [int(x) for x in sys.argv[3].split(",")], order="in_order")
    keys = ["left", "right", "tie"]
    count = [0]

    def answer(*_):
        if session.current is None:
            return
        session.answer(keys[count[0] % 3])
        count[0] += 1
        QTimer.singleShot(0, answer)

    def acknowledged(label):
        print(f"{label.id} {label.pair_id} {label.objective_id} {label.choice}", flush=True)

    session.label_committed.connect(acknowledged)
    session.pair_ready.connect(lambda screen: QTimer.singleShot(0, answer) if screen is not None else app.quit())
    session.start()
    app.exec()
""")


def make_project(path: Path) -> tuple[int, list[int]]:
    from workbench.store.annotators import get_or_create_annotator
    from workbench.store.db import create_project
    from workbench.store.objectives import add_objective
    from workbench.store.pairs import add_pair, add_prompt, add_response

    project = create_project(path)
    with project.session() as s:
        objectives = [add_objective(s, name).id for name in ("helpful", "harmless")]
        for i in range(400):
            p = add_prompt(s, f"prompt {i}")
            add_pair(s, p.id, add_response(s, p.id, f"a{i}").id, add_response(s, p.id, f"b{i}").id)
        annotator = get_or_create_annotator(s, "crash-tester").id
    project.close()
    return annotator, objectives


@pytest.mark.timeout(120)
def test_acknowledged_labels_survive_sigkill(tmp_path):
    from workbench.store.db import open_project
    from workbench.store.labels import active_labels

    path = tmp_path / "crash.sqlite"
    annotator, objectives = make_project(path)
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(annotator),
                              ",".join(map(str, objectives))], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env, cwd=ROOT)
    acked: list[tuple[int, int, int, str]] = []
    deadline = time.monotonic() + 90
    while len(acked) < 150 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        lid, pid, oid, choice = line.split()
        acked.append((int(lid), int(pid), int(oid), choice))
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL, child.stderr.read()
    assert len(acked) >= 150, f"only {len(acked)} labels acknowledged before the deadline: {child.stderr.read()}"

    project = open_project(path)
    try:
        with project.session() as s:
            stored = {lab.id: lab for lab in active_labels(s, annotator_id=annotator)}
    finally:
        project.close()
    for lid, pid, oid, choice in acked:
        assert lid in stored, f"acknowledged label {lid} was lost"
        assert (stored[lid].pair_id, stored[lid].objective_id, stored[lid].choice) == (pid, oid, choice)
    assert len(stored) >= len(acked)  # labels committed after the last line read are there too
