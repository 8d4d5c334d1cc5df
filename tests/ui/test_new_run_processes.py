"""New Run dialog, GPUs group: the processes / fsdp settings reach the RunConfig and the launch command."""

from __future__ import annotations

from tests.ui.test_runs_panel import dialog  # noqa: F401 - fixture
from workbench.cli.launch import train_command
from workbench.services.worker_process import worker_command


def test_processes_and_fsdp_reach_the_config_and_the_worker_command(dialog, tmp_path):  # noqa: F811
    form = dialog.forms["GPUs"]
    assert dialog.config().processes == 1 and not dialog.problems()
    form.editors["fsdp"].setChecked(True)
    assert any("fsdp" in p for p in dialog.problems())  # fsdp alone: needs processes >= 2
    form.editors["processes"].setValue(2)
    cfg = dialog.config()
    assert cfg.processes == 2 and cfg.fsdp and not dialog.problems()
    cfg.save(tmp_path / "config.json")
    program, args = worker_command(tmp_path)
    assert [program, *args] == train_command(tmp_path, processes=2)


def test_a_reward_model_run_on_several_processes_is_refused_before_it_starts(dialog):  # noqa: F811
    """PRM and vector-RM runs train in one process: the dialog says so instead of launching torchrun, whose ranks
    would each fail at start with the same message."""
    dialog.forms["GPUs"].editors["processes"].setValue(2)
    assert not dialog.problems()
    kind = dialog.forms["Reward model"].editors["kind"]
    for k in ("prm", "reward_model"):
        kind.setCurrentIndex(kind.findText(k))
        assert dialog.config().kind == k
        assert f"{k} runs train in one process: set processes to 1" in dialog.problems()
    dialog.forms["GPUs"].editors["processes"].setValue(1)
    assert not any("one process" in p for p in dialog.problems())
