"""Is the model hub reachable? A quick socket check, so an offline machine gets a clear message at once instead of
the hub client's long retries. Standard library only: the demo asks before anything imports torch."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse


def hub_reachable(timeout: float = 3.0) -> bool:
    """False when HF_HUB_OFFLINE is set or the hub host (HF_ENDPOINT) does not answer on port 443 in `timeout` s."""
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False
