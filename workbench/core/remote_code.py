"""A model repository's own Python code (transformers' `trust_remote_code`) runs only with the user's consent given
now, for this load (issue #12). A `trust_remote_code = true` stored in a project (a model row, a run's config) may
come from whoever sent the project, so it is a request, not consent.

The parent process asks (the GUI a dialog naming the repository, every time; the CLI its `--trust-remote-code`
flag or the config file the user passed) and gives the worker the consented model ids in CONSENT_ENV; model
loading (training.model_loading) passes `trust_remote_code=True` to transformers only for those.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping

CONSENT_ENV = "WORKBENCH_REMOTE_CODE_CONSENT"  # JSON list of model ids (as in RunConfig.model) the user allowed


def consent_env(models: Iterable[str]) -> dict[str, str]:
    """The environment entry that lets a worker run the code of these models' repositories."""
    return {CONSENT_ENV: json.dumps(sorted({m for m in models if m}))}


def consented_models(environ: Mapping[str, str] | None = None) -> set[str]:
    raw = (os.environ if environ is None else environ).get(CONSENT_ENV, "")
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return set()
    return {str(m) for m in value} if isinstance(value, list) else set()


def remote_code_allowed(requested: bool, model: str, environ: Mapping[str, str] | None = None) -> bool:
    """True only when the setting asks for it AND the parent passed the user's consent for this model."""
    return bool(requested) and model in consented_models(environ)


def remote_code_request(config: Mapping[str, object]) -> str | None:
    """The repository whose code a run config / model spec asks to run (None when it asks nothing)."""
    return str(config.get("model") or "") or None if config.get("trust_remote_code") else None


NOT_CONSENTED = ("its 'trust_remote_code' setting was not confirmed for this load (a setting stored in a project "
                 "is not consent): start it from the application, which asks, or add --trust-remote-code")
