"""No traceback on the terminal (issue #12): a worker's expected refusal prints its message only (the traceback goes
to the run's worker.log), and any other error becomes one line naming the file plus a log file's path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.cli_testing import workbench
from tests.cli.test_train_cli import _config, project_file  # noqa: F401 - fixture
from tests.training.conftest import tiny_model_dir  # noqa: F401 - the session-scoped model fixture
from workbench.cli.supervise import WORKER_LOG


def test_pickle_only_model_is_refused_without_a_traceback(project_file, tiny_model_dir, tmp_path):  # noqa: F811
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    from safetensors.torch import load_file
    import torch

    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    config = _config(tmp_path, folder)
    result = workbench("train", str(project_file), "--config", str(config))
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert "Traceback" not in out
    assert "only has pickle (.bin) weights" in result.stdout
    log = Path(result.stdout.split("the worker's full log: ", 1)[1].strip())
    assert log.name == WORKER_LOG and "Traceback" in log.read_text()


def test_unexpected_os_error_is_one_line_with_a_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    from workbench.__main__ import main
    from workbench.cli import stats

    def broken(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "p.sqlite"))

    monkeypatch.setattr(stats, "run", broken)
    monkeypatch.setenv("WORKBENCH_LOG_DIR", str(tmp_path / "logs"))
    assert main(["stats", str(tmp_path / "p.sqlite")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"workbench stats: {tmp_path / 'p.sqlite'}: Permission denied: check the path")
    log = Path(err.rsplit("(details: ", 1)[1].rstrip(")"))
    assert "PermissionError" in log.read_text() and "Traceback" in log.read_text()
