"""The Evaluate dialog offers a trained vector reward model as a scorer of the mixtures' generations (issue #17
item 4a): the latest checkpoint of each reward_model run, passed on to the evaluation worker's command line and
from there to its job."""

from __future__ import annotations

from pathlib import Path

import argparse

from tests.ui.test_runs_panel import dialog  # noqa: F401 - fixture
from workbench.cli.worker import add_arguments, eval_jobs
from workbench.core.entities import Checkpoint, Run
from workbench.services.worker_process import eval_command
from workbench.services.tradeoffs import checkpoint_choices
from workbench.ui.dialogs.evaluate_dialog import EvaluateMixturesDialog


def _run(i: int, kind: str, name: str) -> Run:
    return Run(id=i, name=name, config={"kind": kind, "method": "mah_dpo"}, status="finished", run_dir="")


def test_dialog_lists_reward_models_and_the_worker_gets_the_choice(qtbot, tmp_path):
    runs = [(_run(1, "policy", "dpo"), [Checkpoint(1, 1, 5, "checkpoints/step-5")]),
            (_run(2, "reward_model", "rm old"), [Checkpoint(2, 2, 4, "checkpoints/step-4"),
                                                 Checkpoint(3, 2, 8, "checkpoints/step-8")]),
            (_run(3, "reward_model", "rm new"), [Checkpoint(4, 3, 6, "/abs/rm/checkpoints/step-6")]),
            (_run(4, "reward_model", "rm failed early"), [])]
    choices = checkpoint_choices(runs, lambda run: tmp_path / f"run{run.id}", "reward_model")
    assert choices == [("rm new (step 6)", "/abs/rm/checkpoints/step-6"),
                       ("rm old (step 8)", str(tmp_path / "run2" / "checkpoints" / "step-8"))]
    dlg = EvaluateMixturesDialog([], ["a", "b"], reward_models=choices)
    qtbot.addWidget(dlg)
    assert dlg.reward_model() == ""  # none by default
    dlg.reward_combo.setCurrentIndex(2)
    assert dlg.reward_model() == choices[1][1]

    program, args = eval_command(tmp_path / "run1", "checkpoints/step-5", [{"a": 0.5, "b": 0.5}],
                                 reward_model=dlg.reward_model())
    assert args[args.index("--reward-model") + 1] == choices[1][1]
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parsed = parser.parse_args(args[args.index("worker") + 1:])  # `... -m workbench worker eval --run-dir ...`
    (job,) = eval_jobs(parsed)
    assert job.reward_model == choices[1][1] and job.checkpoint == "checkpoints/step-5" and job.base
    _, plain = eval_command(tmp_path / "run1", "checkpoints/step-5", [])
    assert "--reward-model" not in plain
    assert Path(job.run_dir) == tmp_path / "run1"


def test_new_run_dialog_trains_a_reward_model_and_names_one_for_evaluation(dialog):  # noqa: F811
    assert dialog.config().kind == "policy"
    form = dialog.forms["Reward model"]
    form.editors["kind"].setCurrentText("reward_model")
    form.editors["rm_center_coefficient"].setText("0.01")
    dialog.forms["Evaluation"].editors["eval_reward_model"].setText("/runs/0003-rm/checkpoints/step-40")
    cfg = dialog.config()
    assert cfg.kind == "reward_model" and cfg.rm_center_coefficient == 0.01 and not dialog.problems()
    assert cfg.eval_reward_model == "/runs/0003-rm/checkpoints/step-40"


def test_new_run_dialog_trains_a_prm_with_the_implicit_head(dialog):  # noqa: F811
    form = dialog.forms["Reward model"]
    head = form.editors["prm_head"]
    assert [head.itemText(i) for i in range(head.count())] == ["classifier", "implicit"]
    assert dialog.config().prm_head == "classifier"  # TRL's, the default
    form.editors["kind"].setCurrentText("prm")
    head.setCurrentText("implicit")
    form.editors["prm_beta"].setText("0.5")
    cfg = dialog.config()
    assert (cfg.kind, cfg.prm_head, cfg.prm_beta) == ("prm", "implicit", 0.5)
    form.editors["prm_beta"].setText("0")
    assert any("prm_beta" in p for p in dialog.problems())


def test_choosing_a_reward_model_kind_greys_out_what_it_does_not_use(dialog):  # noqa: F811
    """Found under Xvfb: with kind = prm the dialog still offered a preference method, losses and β as if they
    applied; they are now disabled, and each kind's own fields enabled."""
    kind = dialog.forms["Reward model"].editors["kind"]
    rm = dialog.forms["Reward model"].editors

    def enabled() -> dict[str, bool]:
        return {"method": dialog.method.isEnabled(), "losses": dialog.loss_table.isEnabled(),
                "beta": dialog.forms["Loss"].editors["beta"].isEnabled(), "prm_head": rm["prm_head"].isEnabled(),
                "prm_beta": rm["prm_beta"].isEnabled(), "center": rm["rm_center_coefficient"].isEnabled()}

    assert enabled() == {"method": True, "losses": True, "beta": True, "prm_head": False, "prm_beta": False,
                         "center": False}
    kind.setCurrentText("prm")
    assert enabled() == {"method": False, "losses": False, "beta": False, "prm_head": True, "prm_beta": False,
                         "center": False}
    rm["prm_head"].setCurrentText("implicit")
    assert enabled()["prm_beta"]
    kind.setCurrentText("reward_model")
    assert enabled() == {"method": False, "losses": False, "beta": False, "prm_head": False, "prm_beta": False,
                         "center": True}
