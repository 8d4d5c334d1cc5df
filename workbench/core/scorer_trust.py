"""Code that comes with a project runs only after the user trusts it (issue #12).

A project's `scorers.py` (and the copy each run folder keeps) is Python: loading it runs whatever it holds. Projects
are files people send each other, so the file is loaded only when its sha256 is trusted for that project: the user
confirmed it in the GUI's trust dialog (which shows the file and the hash) or passed `--trust-scorers` to a command.
Trust is remembered per project path + file hash in a JSON file in the user's settings folder, never in the project
(a stored setting from a received project is not consent); editing the file changes the hash and asks again.

Workers never read that settings file: the parent process passes the hashes it trusts for the project in
TRUSTED_ENV, and the worker loads its run folder's scorers.py only when the file's hash is among them.
Built-in scorers need no trust: a run that only uses them never loads the file at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Iterable
from pathlib import Path

from workbench.core.errors import WorkbenchError
from workbench.core.scorers import ScorerRegistry, builtin_scorers, scorer_registry

TRUSTED_ENV = "WORKBENCH_TRUSTED_SCORERS"  # comma-separated sha256 hashes a parent passes to its workers
TRUST_FILE_ENV = "WORKBENCH_TRUST_FILE"  # tests and portable installs: where the remembered trust lives
TRUST_FILE = "trusted_scorers.json"


class UntrustedScorers(WorkbenchError):
    """A scorers file that has not been trusted; carries the file and its hash for the dialog."""

    def __init__(self, path: Path, sha256: str) -> None:
        self.path, self.sha256 = path, sha256
        super().__init__(untrusted_message(path, sha256))


def untrusted_message(path: Path, sha256: str) -> str:
    return (f"{path} is Python code that came with the project and has not been trusted (sha256 {sha256[:16]}…), "
            "so scorers defined in it wait: trust it in the application (File ▸ Trust Project Scorers…) or add "
            "--trust-scorers to the command, if you know where it comes from")


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def default_trust_file() -> Path:
    """The user's trust file: TRUST_FILE_ENV, else the per-user config folder (platformdirs)."""
    given = os.environ.get(TRUST_FILE_ENV)
    if given:
        return Path(given)
    from platformdirs import user_config_path  # pure Python, no I/O at import

    return user_config_path("alignment-workbench", appauthor=False) / TRUST_FILE


class TrustBook:
    """project path -> trusted sha256 hashes of code that came with it, kept in one JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_trust_file()

    def _read(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # no file yet, or a damaged one: nothing is trusted
        return {str(k): [str(h) for h in v] for k, v in data.items() if isinstance(v, list)} \
            if isinstance(data, dict) else {}

    @staticmethod
    def _key(project: str | Path) -> str:
        return os.path.normcase(os.path.abspath(project))

    def hashes(self, project: str | Path) -> set[str]:
        return set(self._read().get(self._key(project), []))

    def is_trusted(self, project: str | Path, sha256: str) -> bool:
        return sha256 in self.hashes(project)

    def trust(self, project: str | Path, sha256: str) -> None:
        data = self._read()
        known = data.setdefault(self._key(project), [])
        if sha256 not in known:
            known.append(sha256)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


def trusted_registry(user_file: str | Path | None, trusted: Collection[str],
                     needed: Iterable[str] = ()) -> ScorerRegistry:
    """Built-ins plus the scorers of `user_file`, which is loaded only when its hash is in `trusted`.

    An untrusted file raises UntrustedScorers when one of the `needed` scorer names is not a built-in (the caller
    says why it waits); otherwise the built-ins alone are returned and the file is never executed."""
    try:
        check_trusted(user_file, trusted)
    except UntrustedScorers:
        builtins = ScorerRegistry(builtin_scorers())
        if any(name not in builtins for name in needed):
            raise
        return builtins
    return scorer_registry(user_file)


def check_trusted(user_file: str | Path | None, trusted: Collection[str]) -> None:
    """UntrustedScorers when `user_file` exists and its hash is not in `trusted` (a missing file needs no trust)."""
    if user_file is None or not Path(user_file).is_file():
        return
    sha = file_sha256(user_file)
    if sha not in trusted:
        raise UntrustedScorers(Path(user_file), sha)


def trusted_from_env() -> set[str]:
    """The hashes a worker's parent trusts (TRUSTED_ENV); empty when it passed none."""
    return {h for h in os.environ.get(TRUSTED_ENV, "").split(",") if h}


def trust_env(project: str | Path, book: TrustBook | None = None) -> dict[str, str]:
    """The environment entry a parent gives a worker of `project`: every hash trusted for it."""
    return {TRUSTED_ENV: ",".join(sorted((book or TrustBook()).hashes(project)))}


def pending_trust(project: str | Path, user_file: str | Path, book: TrustBook | None = None) -> str | None:
    """The sha256 of `user_file` when it exists and is not trusted for `project` (what the GUI asks about)."""
    if not Path(user_file).is_file():
        return None
    sha = file_sha256(user_file)
    return None if (book or TrustBook()).is_trusted(project, sha) else sha


def project_trust(project: str | Path, user_file: str | Path, *, trust_now: bool = False,
                  book: TrustBook | None = None) -> set[str]:
    """The hashes trusted for `project`; with `trust_now` (the CLI's --trust-scorers) `user_file` is trusted first
    and remembered."""
    book = book or TrustBook()
    if trust_now and Path(user_file).is_file():
        book.trust(project, file_sha256(user_file))
    return book.hashes(project)
