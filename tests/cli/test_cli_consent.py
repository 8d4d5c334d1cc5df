"""The CLI runs a project's scorers.py only with --trust-scorers (remembered per project + hash), and passes its
workers only the consent the user gave (issue #12)."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.__main__ import main
from workbench.cli.consent import worker_env
from workbench.core.remote_code import CONSENT_ENV
from workbench.core.scorer_trust import TRUSTED_ENV, TrustBook, file_sha256
from workbench.store.db import create_project, open_project
from workbench.store.runs import list_runs


def _received(tmp_path: Path) -> tuple[Path, Path, Path]:
    project = tmp_path / "p.sqlite"
    create_project(project).close()
    marker = tmp_path / "marker.txt"
    (tmp_path / "scorers.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('code ran')\n\n"
        "def score_words(prompt, response):\n    return len(response.split())\n", encoding="utf-8")
    config = tmp_path / "run.toml"
    config.write_text('[run]\nname = "m"\nmethod = "modpo"\nmodel = "tiny"\nobjectives = ["a", "b"]\n'
                      'modpo_target = "a"\nmargin_scorers = {b = "words"}\n', encoding="utf-8")
    return project, marker, config


def test_untrusted_scorers_stop_train_before_anything_runs(tmp_path, capsys):
    project, marker, config = _received(tmp_path)
    assert main(["train", str(project), "--config", str(config)]) == 1
    err = capsys.readouterr().err.strip()
    assert "scorers.py is Python code that came with the project and has not been trusted" in err
    assert "--trust-scorers" in err and len(err.splitlines()) == 1
    assert not marker.exists()
    p = open_project(project)
    with p.session() as s:
        assert list_runs(s) == []  # refused before the run was created
    p.close()


def test_trust_scorers_is_remembered_for_this_project_and_hash(tmp_path, capsys):
    project, marker, config = _received(tmp_path)
    main(["train", str(project), "--config", str(config), "--trust-scorers"])  # the run itself may fail later
    sha = file_sha256(tmp_path / "scorers.py")
    assert TrustBook().is_trusted(project, sha)
    assert marker.exists()  # consent given: the file was loaded
    env = worker_env(project)
    assert env[TRUSTED_ENV] == sha and json.loads(env[CONSENT_ENV]) == []
