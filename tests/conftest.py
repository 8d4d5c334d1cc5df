"""Test-wide settings: Qt offscreen, no network, small thread pools (CI has 2 cores)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "2")


import pytest  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

# The fuzz suites (tests/formats/*_fuzz.py) draw the same examples on every run, so a CI run never fails on a draw
# no earlier run made; HYPOTHESIS_PROFILE=explore draws new ones (run it locally to look for bugs).
hypothesis_settings.register_profile("repeatable", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(autouse=True)
def _user_files_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scorer trust and crash logs go to a per-test folder, never to the real user's settings (issue #12)."""
    folder = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("WORKBENCH_TRUST_FILE", str(folder / "trusted_scorers.json"))
    monkeypatch.setenv("WORKBENCH_LOG_DIR", str(folder / "logs"))
