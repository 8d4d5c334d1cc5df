"""How to start this same program again as a child process (workers, the self-test's GUI check), and the one
place where a training worker's command line is built: one process, N processes under torchrun, or a Slurm
batch script for a cluster (DESIGN.md §7 "Distributed"). Stdlib only: the GUI process builds these too.

In a source or pip install that is `python -m workbench`; in a frozen (PyInstaller) build `sys.executable` is the
app itself, which dispatches `worker ...` before Qt loads, so `-m workbench` must not be added.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from workbench.core.errors import RunError


def self_command() -> list[str]:
    """The argv prefix that runs `workbench` again: the executable itself when frozen, else `python -m workbench`."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "workbench"]


def torchrun_command(processes: int, *, nodes: int = 1, endpoint: str = "") -> list[str]:
    """torchrun (`python -m torch.distributed.run`) starting `processes` workers per node. One node: a private
    rendezvous on a free port (--standalone); several: a c10d rendezvous at `endpoint` (host:port of node 0)."""
    if getattr(sys, "frozen", False):
        raise RunError("training on several processes needs the pip-installed workbench (it launches torchrun); "
                       "this app trains on one process")
    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes)]
    if nodes > 1:
        argv += ["--nnodes", str(nodes), "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint or "$MASTER:29500"]
    else:
        argv += ["--standalone", "--nnodes", "1"]
    return argv + ["--max-restarts", "0", "--no-python"]


def worker_command(run_dir: str | Path, *, resume: bool = False, detached: bool = False) -> list[str]:
    """One training worker. `detached`: no parent reads its protocol stream or sends it commands (a cluster job;
    it stops when cancelled and is resumed with --resume)."""
    return (self_command() + ["worker", "train", "--run-dir", str(run_dir)] + (["--resume"] if resume else [])
            + (["--detached"] if detached else []))


def train_command(run_dir: str | Path, *, resume: bool = False, processes: int = 1, detached: bool = False) -> list[str]:
    """The training worker for `run_dir`: itself, or torchrun running `processes` copies of it."""
    worker = worker_command(run_dir, resume=resume, detached=detached)
    return worker if processes <= 1 else torchrun_command(processes) + worker


def configured_processes(run_dir: str | Path) -> int:
    """`processes` of the run's config.json (1 when the file or the field is missing)."""
    try:
        value = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8")).get("processes", 1)
        return max(1, int(value))
    except (OSError, ValueError, TypeError, AttributeError):
        return 1


def slurm_script(run_dir: str | Path, *, processes: int, nodes: int = 1, hours: int = 24,
                 resume: bool = False) -> str:
    """An sbatch script that trains the prepared run folder on `nodes` nodes × `processes` GPUs each. The run's
    events.jsonl and checkpoints are written into the folder; copy it back next to the project and the GUI
    ingests the events when it next opens the project."""
    run_dir = Path(run_dir).resolve()
    launcher = [a if a != "$MASTER:29500" else "$MASTER_ADDR:29500"
                for a in torchrun_command(processes, nodes=nodes, endpoint="$MASTER:29500")]
    worker = worker_command(run_dir, resume=resume, detached=True)
    rdzv = ["--rdzv-id", "$SLURM_JOB_ID"] if nodes > 1 else []
    line = " ".join(shlex.quote(a) if not a.startswith("$") else f'"{a}"' for a in launcher + rdzv + worker)
    return "\n".join([
        "#!/bin/bash",
        f"#SBATCH --job-name=workbench-{run_dir.name}",
        f"#SBATCH --nodes={nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --gpus-per-node={processes}",
        f"#SBATCH --time={hours}:00:00",
        f"#SBATCH --output={shlex.quote(str(run_dir / 'slurm-%j.log'))}",
        "set -euo pipefail",
        'export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        "# paths are this machine's: edit them where the cluster's Python or run folder differ.",
        "# events go to the run folder's events.jsonl; the protocol copy on stdout is not needed here",
        f"srun {line} > /dev/null",
        "",
    ])
