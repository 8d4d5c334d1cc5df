"""Peak memory of the worker process: what the `peak_memory_mb` metric and the benchmarks report (issue #14).

On CPU the peak resident set size since the process started (the kernel's high-water mark), not the current RSS:
memory freed after the reference pass or a long batch still counted, since that is what the machine had to hold.
"""

from __future__ import annotations

import sys

import torch


def process_peak_rss_mb() -> float:
    """Peak RSS of this process in MiB (Linux/macOS: getrusage; Windows: the peak working set)."""
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        info = psutil.Process().memory_info()
        return float(getattr(info, "peak_wset", info.rss)) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated by torch on CUDA, else the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return process_peak_rss_mb()
