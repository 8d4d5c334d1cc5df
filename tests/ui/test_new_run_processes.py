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
