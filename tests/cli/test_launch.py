"""Worker command lines built in one place (cli/launch.py): one process, torchrun, Slurm; `workbench train
--nproc/--emit-launch` and the GUI's command factory use them."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from tests.cli.test_train_cli import _config, project_file  # noqa: F401 - fixture
from tests.training.conftest import tiny_model_dir  # noqa: F401 - the session-scoped model fixture
from workbench.cli import train as train_cli
from workbench.cli.launch import configured_processes, slurm_script, train_command
from workbench.core.run_config import RunConfig
from workbench.services.worker_process import eval_command, worker_command
from workbench.store.db import open_project
from workbench.store.runs import get_run

WORKER = [sys.executable, "-m", "workbench", "worker", "train", "--run-dir", "R"]


def test_one_process_is_the_plain_worker_and_n_processes_run_under_torchrun():
    assert train_command("R") == WORKER
    assert train_command("R", resume=True) == WORKER + ["--resume"]
    cmd = train_command("R", processes=4)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert cmd[cmd.index("--nproc-per-node") + 1] == "4" and "--standalone" in cmd
    assert cmd[cmd.index("--no-python") + 1:] == WORKER  # torchrun starts 4 copies of the same worker


def test_gui_command_reads_processes_from_the_run_config(tmp_path):
    RunConfig(processes=2).save(tmp_path / "config.json")
    assert configured_processes(tmp_path) == 2 and configured_processes(tmp_path / "missing") == 1
    program, args = worker_command(tmp_path)
    assert [program, *args] == train_command(tmp_path, processes=2)
    program, args = eval_command(tmp_path, "checkpoints/step-2", [])
    assert "torch.distributed.run" not in args and args[:3] == ["-m", "workbench", "worker"] and "eval" in args


def test_slurm_script_for_two_nodes():
    script = slurm_script("/data/runs/0003-x", processes=4, nodes=2)
    assert "#SBATCH --nodes=2" in script and "#SBATCH --gpus-per-node=4" in script
    line = next(x for x in script.splitlines() if x.startswith("srun "))
    argv = shlex.split(line.split(">")[0].replace('"$MASTER_ADDR:29500"', "HOST:29500")
                       .replace('"$SLURM_JOB_ID"', "42"))
    assert argv[argv.index("--nnodes") + 1] == "2" and argv[argv.index("--rdzv-endpoint") + 1] == "HOST:29500"
    assert argv[argv.index("--rdzv-id") + 1] == "42"
    assert argv[-5:] == ["worker", "train", "--run-dir", str(Path("/data/runs/0003-x").resolve()), "--detached"]


def test_train_emit_launch_prepares_the_run_and_writes_scripts(project_file, tiny_model_dir, tmp_path, capsys):
    cfg = _config(tmp_path, tiny_model_dir)
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    out = tmp_path / "launch"
    args = parser.parse_args([str(project_file), "--config", str(cfg), "--runs-dir", str(tmp_path / "runs"),
                              "--nproc", "2", "--emit-launch", str(out)])
    assert train_cli.run(args) == 0
    project = open_project(project_file)
    try:
        with project.session() as s:
            run = get_run(s, 1)
    finally:
        project.close()
    assert run.status == "created"  # prepared, not trained: the GUI ingests its events when they come back
    assert json.loads((Path(run.run_dir) / "config.json").read_text())["processes"] == 2
    sh = (out / "train.sh").read_text()
    assert "--nproc-per-node 2" in sh and "--detached" in sh and str(run.run_dir) in sh
    assert "#SBATCH --gpus-per-node=2" in (out / "train.sbatch").read_text()
