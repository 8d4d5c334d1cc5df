"""peak_memory_mb on CPU is the process's high-water mark, not its current RSS (issue #14)."""

from __future__ import annotations

import psutil
import torch

from workbench.training.engine.trainer import peak_memory_mb


def test_cpu_peak_counts_memory_already_freed():
    before = psutil.Process().memory_info().rss / 2**20
    big = torch.ones(300 * 2**20 // 4)  # 300 MiB, touched
    big.add_(1)
    del big
    now = psutil.Process().memory_info().rss / 2**20
    peak = peak_memory_mb(torch.device("cpu"))
    assert peak >= before + 250  # the 300 MiB block counts although it was freed
    assert peak > now + 200  # the current RSS (the old value) missed it
