"""The CLI side of consent to run code that came with a project (issue #12): scorer trust (core/scorer_trust.py:
`--trust-scorers`, the registry a command may use) and a model's own code (core/remote_code.py:
`--trust-remote-code`), and the environment that tells a command's workers what the user allowed."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from pathlib import Path

from workbench.core.remote_code import consent_env
from workbench.core.scorer_trust import TrustBook, file_sha256, trust_env, trusted_registry
from workbench.core.scorers import ScorerRegistry
from workbench.store.run_prep import SCORERS_FILE, project_scorers


def add_trust_argument(parser: argparse.ArgumentParser, *, remote_code: bool = False) -> None:
    parser.add_argument("--trust-scorers", action="store_true",
                        help="run the project's scorers.py (and the run folders' copies of it): Python code that "
                             "came with the project. Remembered for this project until the file changes")
    if remote_code:
        parser.add_argument("--trust-remote-code", action="store_true",
                            help="let the model run its repository's own Python code when the run's settings ask "
                                 "for it (trust_remote_code); asked every time, never remembered")


def trust_files(project_path: str | Path, run_dirs: Iterable[Path] = ()) -> None:
    """--trust-scorers: remember the project's scorers.py and the given run folders' copies as trusted."""
    book = TrustBook()
    for file in [project_scorers(project_path), *(Path(d) / SCORERS_FILE for d in run_dirs)]:
        if file.is_file():
            book.trust(project_path, file_sha256(file))


def project_registry(project_path: str | Path, needed: Iterable[str] = ()) -> ScorerRegistry:
    """Built-ins plus the project's scorers when trusted; UntrustedScorers when `needed` names one of them."""
    return trusted_registry(project_scorers(project_path), TrustBook().hashes(project_path), needed)


def check_run_scorers(project_path: str | Path, run_dir: Path, needed: Iterable[str]) -> None:
    """UntrustedScorers when the run needs a scorer from its folder's scorers.py and that copy is not trusted
    (checked here, never executed: the worker loads it)."""
    trusted_registry(Path(run_dir) / SCORERS_FILE, TrustBook().hashes(project_path), needed)


def worker_env(project_path: str | Path, remote_code_models: Iterable[str] = ()) -> dict[str, str]:
    """The environment of a worker of this project: ours plus the scorers hashes trusted for the project and the
    models whose own code the user allowed for this command."""
    return {**os.environ, **trust_env(project_path), **consent_env(remote_code_models)}
