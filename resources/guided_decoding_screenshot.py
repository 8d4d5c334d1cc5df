"""Screenshot of PRM-guided decoding in the Models playground, from a real run (issue #17): the application's
window on a new project, the benchmark's arithmetic policy loaded in a real inference worker, the benchmark's PRM
chosen as the guide, one held-out problem answered by PRM step search. The steps and scores are printed too.

Run under Xvfb after tests/benchmarks/bench_guided_decoding.py has trained its policy and PRM into WORK:
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python resources/guided_decoding_screenshot.py WORK [PNG]
PNG defaults to resources/screenshots/guided_decoding.png. The PRM is the newest checkpoint of WORK's PRM runs
(WORK/prm-run-<head>-<data>, the benchmark's defaults: prm-run-implicit-policy); the
problem is held-out problem PROBLEM of the benchmark's evaluation seed, sampled with seed SEED.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import workbench.ui  # noqa: E402,F401  (PySide6 refcount workaround first)
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

PROBLEM, SEED = 0, 0  # held-out problem 0 (seed 7, the benchmark's evaluation seed), sampling seed 0


async def wait_for(cond, what: str, timeout: float = 600.0) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def shoot(work: Path, png: Path, tmp: Path) -> dict:
    from tests.benchmarks.arith_policy import TASK
    from workbench.core.arith_task import generate_problems
    from workbench.services.context import AppContext
    from workbench.ui.main_window import MainWindow
    from workbench.ui.theme import apply_theme

    policy = work / "policy"
    prm = max(work.glob("prm-run*/checkpoints/step-*"), key=lambda p: p.stat().st_mtime)
    problem = generate_problems(PROBLEM + 1, seed=7, error_rate=0.0, **TASK)[PROBLEM]
    ctx = AppContext(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    apply_theme(QApplication.instance(), "light")
    win = MainWindow(ctx, lazy=True)
    win.resize(1500, 980)
    win.show()
    ctx.new_project(tmp / "guided.sqlite")
    models = win.panel("ModelsPanel")
    win.tabs.setCurrentWidget(models)
    models.source.setCurrentIndex(models.source.findData("local"))
    models.location.setText(str(policy))
    models.add_model()
    await wait_for(lambda: bool(models.models), "the model in the list")
    models.list.setCurrentRow(0)
    models.load_selected()
    await wait_for(lambda: ctx.inference is not None, "the inference worker to load the policy")
    models.prompt.setPlainText(problem.prompt + "\n")  # the question, then Enter: the policy writes the steps
    models.temperature.setValue(1.0)
    models.top_p.setValue(1.0)
    models.max_new.setValue(160)
    models.seed.setValue(SEED)
    models.guidance.set_mode("prm_steps")
    models.guidance.checkpoint.setText(str(prm))
    models.guidance.candidates.setValue(4)
    models.guidance.max_steps.setValue(8)
    models.generate()
    await wait_for(lambda: models.request is None, "the guided generation", timeout=600)
    await asyncio.sleep(1.5)
    png.parent.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(png))
    facts = {"problem": problem.prompt, "reference_answer": problem.reference_answer, "prm": str(prm),
             "text": models.output.toPlainText(), "steps": models.step_scores.steps(),
             "summary": models.step_scores.summary.text(), "status": models.status.text()}
    models.shutdown()
    return facts


def main() -> int:
    import qasync

    work = Path(sys.argv[1])
    png = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "resources" / "screenshots" / "guided_decoding.png"
    app = QApplication.instance() or QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp:
        facts = loop.run_until_complete(shoot(work, png, Path(tmp)))
    print(json.dumps(facts, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
